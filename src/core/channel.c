/*
 * Generic channel transactions (Flume's BasicTransactionSemantics): state checks, the per
 * transaction event list bounded by transactionCapacity, metrics, and acknowledging delivered
 * events to their source's tracker on take commit. Plugins see whole batches only.
 */
#include "sqlflume/channel.h"
#include "sqlflume/error.h"
#include "sqlflume/log.h"

#include <stdlib.h>

int sf_channel_check_capacity(const struct sf_channel *ch,
                              long long capacity,
                              long long txn_capacity,
                              struct sf_diag *d)
{
    if (txn_capacity <= capacity) {
        return SF_OK;
    }
    const struct sf_prop *at = sf_section_get(ch->conf, "transactionCapacity");
    sf_diag_error(d, at ? at : sf_section_get(ch->conf, "capacity"),
                  "transactionCapacity (%lld) must not be greater than capacity (%lld)",
                  txn_capacity, capacity);
    return SF_ERR_INVAL;
}

struct sf_txn *sf_channel_txn_begin(struct sf_channel *ch)
{
    struct sf_txn *txn = calloc(1, sizeof(*txn));
    if (!txn) {
        return NULL;
    }
    size_t cap = ch->txn_capacity > 0 ? (size_t)ch->txn_capacity : 100;
    txn->evs = malloc(cap * sizeof(*txn->evs));
    if (!txn->evs) {
        free(txn);
        return NULL;
    }
    txn->ch = ch;
    txn->cap = cap;
    txn->state = SF_TXN_OPEN;
    txn->id = atomic_fetch_add(&ch->next_txn_id, 1) + 1;
    return txn;
}

int sf_channel_put(struct sf_txn *txn, struct sf_event *ev)
{
    if (txn->state != SF_TXN_OPEN || txn->kind == SF_TXN_TAKE) {
        return SF_ERR_STATE;
    }
    txn->kind = SF_TXN_PUT;
    atomic_fetch_add(&txn->ch->metrics.put_attempt, 1);
    if (txn->n >= txn->cap) {
        SF_DEBUG("[channel %s] put queue of transaction of capacity %zu full", txn->ch->name,
                 txn->cap);
        return SF_ERR_FULL;
    }
    txn->evs[txn->n++] = ev;
    return SF_OK;
}

int sf_channel_take(struct sf_txn *txn, struct sf_event **out, size_t max, size_t *n,
                    int timeout_ms)
{
    *n = 0;
    if (txn->state != SF_TXN_OPEN || txn->kind == SF_TXN_PUT) {
        return SF_ERR_STATE;
    }
    txn->kind = SF_TXN_TAKE;
    size_t room = txn->cap - txn->n;
    if (max > room) {
        max = room;
    }
    if (max == 0) {
        return SF_OK;
    }
    int rc = txn->ch->plugin->take(txn, txn->evs + txn->n, max, n, timeout_ms);
    if (rc != SF_OK) {
        atomic_fetch_add(&txn->ch->metrics.take_attempt, 1);
        *n = 0;
        return rc;
    }
    /* Flume counts each take() call, one event each, and the one that found the channel empty */
    atomic_fetch_add(&txn->ch->metrics.take_attempt, (long long)(*n + (*n < max ? 1 : 0)));
    for (size_t i = 0; i < *n; i++) {
        out[i] = txn->evs[txn->n + i];
    }
    txn->n += *n;
    return SF_OK;
}

int sf_channel_txn_commit(struct sf_txn *txn)
{
    if (txn->state != SF_TXN_OPEN) {
        return SF_ERR_STATE;
    }
    int rc = SF_OK;
    /* an empty put still commits when it records a source offset (a selector sent the batch
     * elsewhere; see sf_source_deliver) */
    if (txn->kind == SF_TXN_PUT &&
        (txn->n > 0 || (txn->src_key && txn->src_offset && txn->ch->plugin->offset_get))) {
        rc = txn->ch->plugin->put_commit(txn);
        if (rc != SF_OK) {
            return rc; /* still open: the caller rolls back and keeps its events */
        }
        atomic_fetch_add(&txn->ch->metrics.put_success, (long long)txn->n);
    } else if (txn->kind == SF_TXN_TAKE && txn->n > 0) {
        rc = txn->ch->plugin->take_commit(txn);
        if (rc != SF_OK) {
            return rc;
        }
        /* counted at commit, as Flume does: rolled-back takes are no success */
        atomic_fetch_add(&txn->ch->metrics.take_success, (long long)txn->n);
        sf_events_ack(txn->evs, txn->n);
        for (size_t i = 0; i < txn->n; i++) {
            sf_event_destroy(txn->evs[i]);
        }
    }
    txn->n = 0;
    txn->state = SF_TXN_COMPLETED;
    return SF_OK;
}

int sf_channel_txn_rollback(struct sf_txn *txn)
{
    if (txn->state != SF_TXN_OPEN) {
        return SF_ERR_STATE;
    }
    int rc = SF_OK;
    if (txn->kind == SF_TXN_TAKE && txn->n > 0) {
        rc = txn->ch->plugin->take_rollback(txn);
    }
    /* put: the events were never the channel's; the caller still owns them */
    txn->n = 0;
    txn->state = SF_TXN_COMPLETED;
    return rc;
}

void sf_channel_txn_close(struct sf_txn *txn)
{
    if (!txn) {
        return;
    }
    if (txn->state == SF_TXN_OPEN) {
        sf_channel_txn_rollback(txn);
    }
    txn->state = SF_TXN_CLOSED;
    free(txn->evs);
    free(txn);
}

size_t sf_channel_size(struct sf_channel *ch)
{
    return ch->plugin->size(ch);
}

int sf_channel_offset_get(struct sf_channel *ch, const char *src_key, char **out)
{
    *out = NULL;
    if (!ch->plugin->offset_get) {
        return SF_ERR_NOTFOUND;
    }
    return ch->plugin->offset_get(ch, src_key, out);
}
