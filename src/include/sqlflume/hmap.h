/*
 * A small open-addressing hash map from a non-zero 64-bit key to a 64-bit value, shared by the
 * file channel's replay (log position -> queue index), the Kafka sink's topic handle cache and
 * its position index (string hash -> entry index) and the HDFS sink's bucket writers (string
 * hash -> writer).
 *
 * Shape: one array of 16-byte slots {key, val}, linear probing, capacity a power of 2, at most
 * half full (sf_hmap_add grows it by doubling; it never shrinks); sf_hmap_remove shifts the
 * following slots back (no tombstones). Key 0 marks an empty slot, so keys must be
 * non-zero: a string table passes sf_hmap_key_str(s), which never returns 0.
 *
 * Several slots may hold the same key: sf_hmap_add always adds one. A table of strings keyed by
 * their hash therefore walks the candidates with sf_hmap_next and compares the strings itself;
 * a table with exact keys uses sf_hmap_get / sf_hmap_set.
 *
 * Ownership: the map owns its slot array only (sf_hmap_free). Values are the caller's (indexes
 * into the caller's own arrays, usually). Not thread-safe: the caller locks.
 */
#ifndef SQLFLUME_HMAP_H
#define SQLFLUME_HMAP_H

#include <stddef.h>
#include <stdint.h>

struct sf_hmap_slot {
    uint64_t key; /* 0 = empty */
    uint64_t val;
};

struct sf_hmap {
    struct sf_hmap_slot *slots; /* cap slots, or NULL while cap is 0 */
    size_t cap;                 /* 0 or a power of 2 */
    size_t n;                   /* slots in use */
};

#define SF_HMAP_INIT                                                                               \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/** The home slot of key in a table of cap (a power of 2) slots: a 64-bit finaliser (murmur3's
 *  fmix64), so that keys with structure (file id << 32 | offset) spread. */
static inline size_t sf_hmap_home(uint64_t key, size_t cap)
{
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdULL;
    key ^= key >> 33;
    return (size_t)key & (cap - 1);
}

/** FNV-1a of the NUL-terminated s, never 0 (0 is mapped to 1): a key for sf_hmap_add. */
uint64_t sf_hmap_key_str(const char *s);
/** Continue the FNV-1a hash h over s (NUL-terminated); combine several strings with a separator
 *  byte between them (sf_hmap_key_byte). Never 0. */
uint64_t sf_hmap_key_more(uint64_t h, const char *s);
/** Continue the FNV-1a hash h with one byte c. Never 0. */
uint64_t sf_hmap_key_byte(uint64_t h, unsigned char c);

/**
 * The next slot holding key after *pos, for walking every slot of one key: start with *pos =
 * SIZE_MAX. Returns the slot (its val may be changed in place; its key must not), or NULL when no
 * further slot holds key.
 */
static inline struct sf_hmap_slot *sf_hmap_next(const struct sf_hmap *m, uint64_t key, size_t *pos)
{
    if (!m->cap) {
        return NULL;
    }
    size_t mask = m->cap - 1;
    size_t i = *pos == SIZE_MAX ? sf_hmap_home(key, m->cap) : ((*pos + 1) & mask);
    for (; m->slots[i].key; i = (i + 1) & mask) {
        if (m->slots[i].key == key) {
            *pos = i;
            return &m->slots[i];
        }
    }
    return NULL;
}

/** The first slot holding key, or NULL (for maps with exact keys). */
static inline struct sf_hmap_slot *sf_hmap_get(const struct sf_hmap *m, uint64_t key)
{
    size_t pos = SIZE_MAX;
    return sf_hmap_next(m, key, &pos);
}

/**
 * Make room for n slots in use without growing again (load at most 1/2): to be called before a
 * known number of insertions, such as a checkpoint's queue.
 * @return SF_OK, or SF_ERR_NOMEM (the map is unchanged).
 */
int sf_hmap_reserve(struct sf_hmap *m, size_t n);

/**
 * Add a slot {key, val} (key non-zero), even when key is present already.
 * @return SF_OK, or SF_ERR_NOMEM when growing failed (the map is unchanged).
 */
int sf_hmap_add(struct sf_hmap *m, uint64_t key, uint64_t val);

/**
 * Set the value of key (non-zero): the first slot holding it, or a new one.
 * @return SF_OK, or SF_ERR_NOMEM when a new slot was needed and growing failed (unchanged).
 */
int sf_hmap_set(struct sf_hmap *m, uint64_t key, uint64_t val);

/**
 * Remove slot s (a pointer sf_hmap_get / sf_hmap_next returned, not used after): later slots of
 * its probe run move back, so a walk with sf_hmap_next must restart after a removal.
 */
void sf_hmap_remove(struct sf_hmap *m, struct sf_hmap_slot *s);

/** Free the slot array and empty the map (it may be used again). */
void sf_hmap_free(struct sf_hmap *m);

#endif
