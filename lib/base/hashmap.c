/*
 * hashmap.c - open addressing with linear probing; grows at 70% load (tombstones counted).
 */
#include <stdlib.h>
#include <string.h>

#include <korch/common.h>
#include "base/hashmap.h"

static char tombstone_mark;
#define HASHMAP_TOMBSTONE (&tombstone_mark)

/* FNV-1a: short keys, good enough spread, no seed needed for internal maps. */
uint32_t
hash_string(const char *s, size_t len)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

static struct hashmap_slot *
find_slot(const struct hashmap *m, const char *key, uint32_t h)
{
	if (!m->cap)
		return NULL;
	size_t mask = m->cap - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		struct hashmap_slot *s = &m->slots[i];
		if (!s->key)
			return NULL;
		if (s->key != HASHMAP_TOMBSTONE && s->hash == h && strcmp(s->key, key) == 0)
			return s;
	}
}

static int
rehash(struct hashmap *m, size_t cap)
{
	struct hashmap_slot *slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return KORCH_ENOMEM;
	for (size_t i = 0; i < m->cap; i++) {
		struct hashmap_slot *s = &m->slots[i];
		if (!s->key || s->key == HASHMAP_TOMBSTONE)
			continue;
		size_t j = s->hash & (cap - 1);
		while (slots[j].key)
			j = (j + 1) & (cap - 1);
		slots[j] = *s;
	}
	free(m->slots);
	m->slots = slots;
	m->cap = cap;
	m->used = m->n;
	return 0;
}

int
hashmap_put(struct hashmap *m, const char *key, void *value, void **ret_old)
{
	uint32_t h = hash_string(key, strlen(key));
	struct hashmap_slot *s = find_slot(m, key, h);
	if (s) {
		if (ret_old)
			*ret_old = s->value;
		s->value = value;
		return 0;
	}
	if ((m->used + 1) * 10 >= m->cap * 7) {
		size_t cap = m->cap ? m->cap : 16;
		if ((m->n + 1) * 10 >= cap * 5)
			cap *= 2;
		if (rehash(m, cap) < 0)
			return KORCH_ENOMEM;
	}
	char *k = strdup(key);
	if (!k)
		return KORCH_ENOMEM;
	size_t mask = m->cap - 1;
	size_t i = h & mask;
	while (m->slots[i].key && m->slots[i].key != HASHMAP_TOMBSTONE)
		i = (i + 1) & mask;
	if (!m->slots[i].key)
		m->used++;
	m->slots[i] = (struct hashmap_slot){ k, value, h };
	m->n++;
	if (ret_old)
		*ret_old = NULL;
	return 0;
}

void *
hashmap_get(const struct hashmap *m, const char *key)
{
	struct hashmap_slot *s = find_slot(m, key, hash_string(key, strlen(key)));
	return s ? s->value : NULL;
}

bool
hashmap_contains(const struct hashmap *m, const char *key)
{
	return find_slot(m, key, hash_string(key, strlen(key))) != NULL;
}

void *
hashmap_remove(struct hashmap *m, const char *key)
{
	struct hashmap_slot *s = find_slot(m, key, hash_string(key, strlen(key)));
	if (!s)
		return NULL;
	void *v = s->value;
	free(s->key);
	s->key = HASHMAP_TOMBSTONE;
	s->value = NULL;
	m->n--;
	return v;
}

bool
hashmap_next(const struct hashmap *m, size_t *iter, const char **ret_key, void **ret_value)
{
	for (; *iter < m->cap; (*iter)++) {
		struct hashmap_slot *s = &m->slots[*iter];
		if (s->key && s->key != HASHMAP_TOMBSTONE) {
			if (ret_key)
				*ret_key = s->key;
			if (ret_value)
				*ret_value = s->value;
			(*iter)++;
			return true;
		}
	}
	return false;
}

void
hashmap_free(struct hashmap *m, void (*free_value)(void *))
{
	for (size_t i = 0; i < m->cap; i++) {
		struct hashmap_slot *s = &m->slots[i];
		if (!s->key || s->key == HASHMAP_TOMBSTONE)
			continue;
		if (free_value)
			free_value(s->value);
		free(s->key);
	}
	free(m->slots);
	*m = (struct hashmap)HASHMAP_INIT;
}
