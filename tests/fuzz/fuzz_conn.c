/* cws_conn fed raw fuzzer bytes, in either role and either receive mode,
 * chunked at input-chosen sizes, with the invariants of conn_driver.h. */
#include "conn_driver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_input in = {data, size};
    drv_config cfg;
    drv_config_from(&in, &cfg);
    drv d;
    drv_run(&d, &cfg, in.p, in.n);
    drv_free(&d);
    return 0;
}
