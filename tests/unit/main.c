/*
 * The check main shared by every tests/unit/<area>/ binary (see unit.h):
 *   unit_<area> [MODULE...]
 * runs the named suites of the area, or all of them when none is named, with check's default
 * fork mode and output; exit status 0 when every test passed, 1 when one failed, 2 for an unknown
 * module.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

static void add(SRunner **sr, const struct sf_unit_suite *u)
{
    if (*sr) {
        srunner_add_suite(*sr, u->make());
    } else {
        *sr = srunner_create(u->make());
    }
}

int main(int argc, char **argv)
{
    SRunner *sr = NULL;
    for (int i = 1; i < argc; i++) {
        const struct sf_unit_suite *u = sf_unit_suites;
        while (u->name && strcmp(u->name, argv[i]) != 0) {
            u++;
        }
        if (!u->name) {
            fprintf(stderr, "%s: no suite \"%s\"; this binary has:", argv[0], argv[i]);
            for (u = sf_unit_suites; u->name; u++) {
                fprintf(stderr, " %s", u->name);
            }
            fprintf(stderr, "\n");
            if (sr) {
                srunner_free(sr);
            }
            return 2;
        }
        add(&sr, u);
    }
    if (argc == 1) {
        for (const struct sf_unit_suite *u = sf_unit_suites; u->name; u++) {
            add(&sr, u);
        }
    }
    if (!sr) {
        fprintf(stderr, "%s: no suites\n", argv[0]);
        return 2;
    }
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
