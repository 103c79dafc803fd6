/* positions.c: the exactly-once position record: built from and applied to the sink's delivered
 * positions (sqlflume/positions.h; the record's use in kafka_int.h). */
#include "kafka_int.h"

#include "sqlflume/mem.h"

/*
 * The open batch's position record into ctx->pos_buf:
 *   sqlflume-positions 1
 *   txn <number of this Kafka transaction>
 *   prev <number of the last committed one, or ->
 *   pos <topic> <table> <offset>                 every pair: the highest offset delivered
 *   ids <topic> <table> <floor> <hw>[;<gaps>]    pairs with integer offsets: every one of
 *                                                floor..hw was delivered except the gaps
 *                                                ("lo-hi" or "id", ',' between; sqlflume/offset.h)
 *   batch <topic> <table> <first> <last> <count> the pairs of this batch: first and last offset
 *                                                produced (channel order) and how many
 * Fields are escaped by put_field. Format 1 had, instead of "ids", "ranges <topic> <table>
 * <lo>~<hi>,..." listing the delivered ranges; pos_record_apply still reads it.
 */
void kf_pos_record_build(struct kafka_ctx *ctx)
{
    struct sf_buf *b = &ctx->pos_buf;
    sf_buf_reset(b);
    sf_buf_printf(b, POSITIONS_FORMAT "\ntxn %lld\nprev ", ctx->txn_seq);
    if (ctx->committed_seq >= 0) {
        sf_buf_printf(b, "%lld\n", ctx->committed_seq);
    } else {
        sf_buf_puts(b, "-\n");
    }
    sf_positions_encode(&ctx->pos, b, true, true);
}

/* Replace the committed positions by those of a record (NULL: none stored). @return SF_OK or
 * SF_ERR_DATA (errstr says why; nothing changed). */
int kf_pos_record_apply(struct kafka_ctx *ctx,
                        const char *rec,
                        size_t len,
                        char *errstr,
                        size_t errstr_size)
{
    sf_positions_clear(&ctx->pos);
    ctx->committed_seq = -1;
    ctx->txn_seq = 0;
    if (!rec) {
        return SF_OK;
    }
    char *text = sf_strndup(rec, len);
    if (!text) {
        abort();
    }
    int rc = SF_ERR_DATA;
    long long seq = -1;
    size_t nline = 0;
    bool v1 = false;
    char *save = NULL;
    char why[160];
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        nline++;
        if (nline == 1) {
            v1 = strcmp(line, POSITIONS_FORMAT_1) == 0;
            if (!v1 && strcmp(line, POSITIONS_FORMAT) != 0) {
                (void)snprintf(errstr, errstr_size, "unknown format \"%.40s\"", line);
                goto out;
            }
            continue;
        }
        if (strncmp(line, "txn ", 4) == 0) {
            if (!sf_offset_int_parse(line + 4, &seq) || seq < 0) {
                (void)snprintf(errstr, errstr_size, "bad line %zu", nline);
                goto out;
            }
            continue;
        }
        int lrc = sf_positions_parse_line(&ctx->pos, line, v1, why, sizeof(why));
        if (lrc == SF_ERR_DATA) {
            (void)snprintf(errstr, errstr_size, "line %zu: %s", nline, why);
            goto out;
        } /* SF_ERR_NOTFOUND: prev and lines of later minor versions, not needed here */
    }
    if (seq < 0) {
        (void)snprintf(errstr, errstr_size, "no txn line");
        goto out;
    }
    ctx->committed_seq = ctx->txn_seq = seq;
    rc = SF_OK;
out:
    if (rc != SF_OK) {
        sf_positions_clear(&ctx->pos);
    }
    free(text);
    return rc;
}
/* Producer properties that the positions reader (a consumer) needs as well. */
