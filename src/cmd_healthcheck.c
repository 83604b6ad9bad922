/* cmd_healthcheck.c - `tiktok-audienced healthcheck [--url URL] [-c FILE]`: exit 0 iff the
 * local /healthz answers 200 (container HEALTHCHECK). The default URL comes from
 * metrics.listen. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "tad/cli.h"
#include "tad/commands.h"
#include "tad/http.h"

int tad_cmd_healthcheck(int argc, char **argv)
{
    static const struct option opts[] = {{"url", required_argument, NULL, 'u'},
                                         {"config", required_argument, NULL, 'c'},
                                         {NULL, 0, NULL, 0}};
    const char *url = NULL, *path = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "u:c:", opts, NULL)) != -1) {
        if (c == 'u')
            url = optarg;
        else if (c == 'c')
            path = optarg;
        else
            return tad_cli_usage_error("healthcheck: bad option");
    }
    if (optind < argc)
        return tad_cli_usage_error("healthcheck: unexpected argument '%s'", argv[optind]);
    char built[300];
    if (!url) {
        struct tad_config *cfg = NULL;
        struct tad_config_overrides ov = TAD_CONFIG_OVERRIDES_INIT;
        int rc = tad_cli_load_config(path, &ov, &cfg);
        if (rc != TAD_EXIT_OK)
            return rc;
        if (!cfg->metrics_listen || !*cfg->metrics_listen) {
            tad_config_unref(cfg);
            fputs("tiktok-audienced: healthcheck: metrics.listen is empty (endpoint off)\n",
                  stderr);
            return TAD_EXIT_FAILURE;
        }
        const char *listen = cfg->metrics_listen;
        /* a wildcard listen address is reached through loopback */
        if (strncmp(listen, "0.0.0.0:", 8) == 0)
            snprintf(built, sizeof(built), "http://127.0.0.1:%s/healthz", listen + 8);
        else if (strncmp(listen, "[::]:", 5) == 0)
            snprintf(built, sizeof(built), "http://[::1]:%s/healthz", listen + 5);
        else
            snprintf(built, sizeof(built), "http://%s/healthz", listen);
        tad_config_unref(cfg);
        url = built;
    }
    struct tad_http *h = NULL;
    struct tad_http_opts ho = {
        .connect_timeout_ms = 2000, .total_timeout_ms = 5000, .no_proxy = true};
    if (tad_http_new(&ho, &h) != TAD_OK)
        return TAD_EXIT_FAILURE;
    struct tad_http_request req = {.method = "GET", .url = url};
    struct tad_http_response resp;
    tad_http_response_init(&resp);
    struct tad_errinfo ei;
    tad_errinfo_clear(&ei);
    tad_err e = tad_http_perform(h, &req, &resp, &ei);
    int rc = TAD_EXIT_OK;
    if (e != TAD_OK) {
        fprintf(stderr, "tiktok-audienced: healthcheck: %s: %s\n", url,
                resp.error[0] ? resp.error : tad_err_str(e));
        rc = TAD_EXIT_FAILURE;
    } else if (resp.status != 200) {
        fprintf(stderr, "tiktok-audienced: healthcheck: %s answered %ld\n", url, resp.status);
        rc = TAD_EXIT_FAILURE;
    }
    tad_http_response_release(&resp);
    tad_http_free(h);
    return rc;
}
