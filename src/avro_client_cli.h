/*
 * `sqlflume avro-client`: Flume's `flume-ng avro-client` (org.apache.flume.client.avro.
 * AvroCLIClient): sends the lines of a file, or of stdin, to an AvroSource, one event per line.
 */
#ifndef SQLFLUME_AVRO_CLIENT_CLI_H
#define SQLFLUME_AVRO_CLIENT_CLI_H

#include <stdio.h>

/** Events per appendBatch call (AvroCLIClient's BATCH_SIZE). */
#define SF_AVRO_CLI_BATCH 5

/** Exit codes: 0 every line sent and answered OK; 1 could not connect, or a batch failed; 2 bad
 *  arguments, or the file or the header file cannot be read. */
#define SF_AVRO_CLI_EXIT_FAILED 1
#define SF_AVRO_CLI_EXIT_USAGE  2

/**
 * `sqlflume avro-client -H HOST -p PORT [-F FILE] [-R HEADERFILE] [-c CONFDIR]`, argv[1] being
 * "avro-client". Each line of FILE (stdin without -F) is one event, its body the line's bytes
 * without the line end (\n, \r\n or \r, as Java's readLine); the properties of HEADERFILE (Java
 * properties syntax) are the headers of every event. The events go in appendBatch calls of
 * SF_AVRO_CLI_BATCH over one connection (connect and request timeouts of 20 s, Flume's RPC
 * client defaults); the first batch not answered OK ends the run with a message on stderr.
 * @return the exit code
 */
int sf_avro_cli_main(int argc, char **argv);

/** The usage lines of avro-client, for `sqlflume --help`. */
void sf_avro_cli_usage(FILE *out);

#endif
