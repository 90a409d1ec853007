/*
 * hashmap.h - a string-keyed hash map (open addressing, linear probing, tombstones).
 * Keys are copied on insert; values are borrowed pointers the caller manages.
 */
#ifndef KORCH_BASE_HASHMAP_H
#define KORCH_BASE_HASHMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hashmap_slot {
	char *key;   /* NULL: empty; HASHMAP_TOMBSTONE: deleted */
	void *value; /* the caller's pointer */
	uint32_t hash;
};

struct hashmap {
	struct hashmap_slot *slots; /* cap entries */
	size_t cap;                 /* a power of two, or 0 */
	size_t n;                   /* live entries */
	size_t used;                /* live entries plus tombstones */
};

#define HASHMAP_INIT          \
	{                     \
		NULL, 0, 0, 0 \
	}

uint32_t hash_string(const char *s, size_t len);
/* Inserts or replaces; *ret_old (if not NULL) receives the replaced value or NULL. */
int hashmap_put(struct hashmap *m, const char *key, void *value, void **ret_old);
void *hashmap_get(const struct hashmap *m, const char *key);
bool hashmap_contains(const struct hashmap *m, const char *key);
/* Removes key and returns its value, or NULL. */
void *hashmap_remove(struct hashmap *m, const char *key);
/* Iteration: start with *iter = 0; returns false at the end. */
bool hashmap_next(const struct hashmap *m, size_t *iter, const char **ret_key, void **ret_value);
void hashmap_free(struct hashmap *m, void (*free_value)(void *));

#endif
