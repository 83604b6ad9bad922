/* manifest.h - writes DIR/manifest.json describing the part files of a pipeline run.
 *
 * {"audience", "calculate_type", "rows_total", "rows_valid", "rows_invalid", "rows_blank",
 *  "parts": [{"file", "bytes", "md5", "rows"}]}; "file" is the part's base name (part-00001.csv
 * style when the part has no path). Written to a temporary file in DIR (0600) and renamed, so a
 * reader never sees half a manifest. Stateless and thread-safe; the result is borrowed.
 */
#ifndef TAD_MANIFEST_H
#define TAD_MANIFEST_H

#include "tad/error.h"
#include "tad/pipeline.h"

TAD_MUST_CHECK tad_err tad_manifest_write(const char *dir, const struct tad_pipeline_result *res,
                                          const char *audience, const char *calculate_type,
                                          struct tad_errinfo *info);

#endif
