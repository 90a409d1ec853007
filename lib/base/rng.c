/*
 * rng.c - splitmix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators",
 * 2014): one 64-bit state, a Weyl step and a mixing function; passes BigCrush.
 */
#include <string.h>

#include "base/rng.h"

void
rng_seed(struct rng *g, uint64_t seed)
{
	g->state = seed;
}

uint64_t
rng_next(struct rng *g)
{
	uint64_t z = (g->state += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

void
rng_fill(struct rng *g, void *buf, size_t len)
{
	unsigned char *p = buf;
	while (len) {
		uint64_t v = rng_next(g);
		size_t n = len < sizeof(v) ? len : sizeof(v);
		memcpy(p, &v, n);
		p += n;
		len -= n;
	}
}
