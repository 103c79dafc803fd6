/*
 * The shared open-addressing hash map (sqlflume/hmap.h): growth and insertion; lookups are
 * inline in the header.
 */
#include "sqlflume/hmap.h"

#include <stdbool.h>
#include <stdlib.h>

#include "sqlflume/error.h"

#define FNV_OFFSET 14695981039346656037ULL
#define FNV_PRIME  1099511628211ULL

uint64_t sf_hmap_key_byte(uint64_t h, unsigned char c)
{
    h = (h ^ c) * FNV_PRIME;
    return h ? h : 1;
}

uint64_t sf_hmap_key_more(uint64_t h, const char *s)
{
    for (; *s; s++) {
        h = (h ^ (unsigned char)*s) * FNV_PRIME;
    }
    return h ? h : 1;
}

uint64_t sf_hmap_key_str(const char *s)
{
    return sf_hmap_key_more(FNV_OFFSET, s);
}

/* Put {key, val} in its probe run of slots (cap a power of 2, a free slot exists). */
static void place(struct sf_hmap_slot *slots, size_t cap, uint64_t key, uint64_t val)
{
    size_t i = sf_hmap_home(key, cap);
    while (slots[i].key) {
        i = (i + 1) & (cap - 1);
    }
    slots[i].key = key;
    slots[i].val = val;
}

int sf_hmap_reserve(struct sf_hmap *m, size_t n)
{
    size_t cap = m->cap ? m->cap : 64;
    while (cap / 2 < n) {
        if (cap > SIZE_MAX / 2 / sizeof(struct sf_hmap_slot)) {
            return SF_ERR_NOMEM;
        }
        cap *= 2;
    }
    if (cap == m->cap) {
        return SF_OK;
    }
    struct sf_hmap_slot *slots = calloc(cap, sizeof(*slots));
    if (!slots) {
        return SF_ERR_NOMEM;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].key) {
            place(slots, cap, m->slots[i].key, m->slots[i].val);
        }
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return SF_OK;
}

/* Room for one more slot in use (doubling when at half load). @return SF_OK / SF_ERR_NOMEM. */
static int room_for_one(struct sf_hmap *m)
{
    return (m->n + 1) * 2 > m->cap ? sf_hmap_reserve(m, m->cap ? m->cap : 32) : SF_OK;
}

int sf_hmap_add(struct sf_hmap *m, uint64_t key, uint64_t val)
{
    int rc = room_for_one(m);
    if (rc != SF_OK) {
        return rc;
    }
    place(m->slots, m->cap, key, val);
    m->n++;
    return SF_OK;
}

int sf_hmap_set(struct sf_hmap *m, uint64_t key, uint64_t val)
{
    /* grown first (even if key is present), so that one probe finds key or its free slot */
    int rc = room_for_one(m);
    if (rc != SF_OK) {
        return rc;
    }
    size_t i = sf_hmap_home(key, m->cap);
    while (m->slots[i].key && m->slots[i].key != key) {
        i = (i + 1) & (m->cap - 1);
    }
    if (!m->slots[i].key) {
        m->slots[i].key = key;
        m->n++;
    }
    m->slots[i].val = val;
    return SF_OK;
}

void sf_hmap_remove(struct sf_hmap *m, struct sf_hmap_slot *s)
{
    size_t mask = m->cap - 1, hole = (size_t)(s - m->slots);
    m->slots[hole].key = 0;
    m->n--;
    /* backward shift: a later slot of the run moves into the hole unless its home lies in the
     * cyclic range (hole, j], where it would no longer be found from its home */
    for (size_t j = (hole + 1) & mask; m->slots[j].key; j = (j + 1) & mask) {
        size_t home = sf_hmap_home(m->slots[j].key, m->cap);
        bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
        if (!stays) {
            m->slots[hole] = m->slots[j];
            m->slots[j].key = 0;
            hole = j;
        }
    }
}

void sf_hmap_free(struct sf_hmap *m)
{
    free(m->slots);
    m->slots = NULL;
    m->cap = m->n = 0;
}
