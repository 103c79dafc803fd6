/* Placeholder until the implementation lands: opening fails with a clear message. */
#include "hdfs_fs_impl.h"

#include <stdio.h>

#include "sqlflume/error.h"

int sf_hdfs_webhdfs_open(const char *uri, const struct sf_hdfs_fs_conf *conf,
                       struct sf_hdfs_fs **out, char *err, size_t errsz)
{
    (void)conf;
    *out = NULL;
    snprintf(err, errsz, "\"%s\": this file system is not implemented yet", uri);
    return SF_ERR_INVAL;
}
