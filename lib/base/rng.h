/*
 * rng.h - a small seeded pseudo-random generator (splitmix64) for what must repeat exactly under
 * the simulation mode: the same seed gives the same uids, generated names and tie-breaks.
 * Not for secrets: tokens and keys come from getrandom(2).
 */
#ifndef KORCH_BASE_RNG_H
#define KORCH_BASE_RNG_H

#include <stddef.h>
#include <stdint.h>

struct rng {
	uint64_t state; /* advances by a fixed odd step per draw */
};

/* Seeds g; every seed (0 included) gives its own sequence. */
void rng_seed(struct rng *g, uint64_t seed);

/* The next 64 random bits. */
uint64_t rng_next(struct rng *g);

/* Fills buf with len random bytes. */
void rng_fill(struct rng *g, void *buf, size_t len);

#endif
