/*
 * vec.h - a growable array of pointers, and a typed growable array through macros.
 */
#ifndef KORCH_BASE_VEC_H
#define KORCH_BASE_VEC_H

#include <stddef.h>
#include <stdlib.h>

struct ptrvec {
	void **items; /* n entries */
	size_t n;     /* entries in use */
	size_t cap;   /* entries allocated */
};

#define PTRVEC_INIT        \
	{                  \
		NULL, 0, 0 \
	}

/* Appends p; 0 or KORCH_ENOMEM. */
int ptrvec_push(struct ptrvec *v, void *p);
/* Removes entry i keeping order. */
void ptrvec_remove(struct ptrvec *v, size_t i);
/* Frees the array, calling free_fn on every entry first when it is not NULL. */
void ptrvec_free(struct ptrvec *v, void (*free_fn)(void *));

/*
 * Grows a typed array `T *items; size_t n, cap;` by one and returns a pointer to the new,
 * zeroed entry, or NULL when out of memory.
 */
#define VEC_PUSH(items, n, cap) \
	((__typeof__(items))vec_grow((void **)&(items), &(n), &(cap), sizeof(*(items))))
void *vec_grow(void **items, size_t *n, size_t *cap, size_t elem_size);

#endif
