/*
 * vec.c - growable arrays.
 */
#include <string.h>

#include <korch/common.h>
#include "base/vec.h"

void *
vec_grow(void **items, size_t *n, size_t *cap, size_t elem_size)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 8;
		void *p = realloc(*items, c * elem_size);
		if (!p)
			return NULL;
		*items = p;
		*cap = c;
	}
	void *e = (char *)*items + *n * elem_size;
	memset(e, 0, elem_size);
	(*n)++;
	return e;
}

int
ptrvec_push(struct ptrvec *v, void *p)
{
	void **slot = VEC_PUSH(v->items, v->n, v->cap);
	if (!slot)
		return KORCH_ENOMEM;
	*slot = p;
	return 0;
}

void
ptrvec_remove(struct ptrvec *v, size_t i)
{
	if (i >= v->n)
		return;
	memmove(&v->items[i], &v->items[i + 1], (v->n - i - 1) * sizeof(void *));
	v->n--;
}

void
ptrvec_free(struct ptrvec *v, void (*free_fn)(void *))
{
	if (free_fn)
		for (size_t i = 0; i < v->n; i++)
			free_fn(v->items[i]);
	free(v->items);
	*v = (struct ptrvec)PTRVEC_INIT;
}
