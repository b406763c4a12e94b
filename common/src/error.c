/* error.c: descriptions of whistle's error codes, from the one table in error.h. */
#include "whistle/error.h"

const char *wh_strerror(int code)
{
    switch (code) {
    case WH_OK: return "ok";
#define WH_ERR_MSG(name, val, msg) case WH_##name: return msg;
    WH_ERRNO_MAP(WH_ERR_MSG)
#undef WH_ERR_MSG
    default: return "unknown error";
    }
}

const char *wh_errname(int code)
{
    switch (code) {
    case WH_OK: return "OK";
#define WH_ERR_NAME(name, val, msg) case WH_##name: return #name;
    WH_ERRNO_MAP(WH_ERR_NAME)
#undef WH_ERR_NAME
    default: return "EUNKNOWN";
    }
}

int wh_error_is_storage(int code)
{
    return code == WH_ESTORE || code == WH_EMAPFULL || code == WH_ENOMEM;
}
