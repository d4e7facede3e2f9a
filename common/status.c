/* The one table of status strings, and errno conversion. */
#include <errno.h>
#include <stddef.h>

#include "dsm_common.h"

/* Indexed by -status; DSM_INPROGRESS is handled separately. */
static const char *const dsm_status_strings[] = {
    [-DSM_OK]                  = "success",
    [-DSM_ERR_INVALID_PARAM]   = "invalid parameter",
    [-DSM_ERR_NO_MEMORY]       = "out of memory",
    [-DSM_ERR_UNSUPPORTED]     = "not supported by this host",
    [-DSM_ERR_PERMISSION]      = "permission denied",
    [-DSM_ERR_IO]              = "system call failed",
    [-DSM_ERR_EXISTS]          = "page already present",
    [-DSM_ERR_AGAIN]           = "mapping changed, retry",
    [-DSM_ERR_NO_ENTRY]        = "range not mapped or not registered",
    [-DSM_ERR_TIMEOUT]         = "timed out",
    [-DSM_ERR_TRANSPORT]       = "transport failure",
    [-DSM_ERR_PEER_LOST]       = "a node of the job was lost",
    [-DSM_ERR_AUTH]            = "job key mismatch",
    [-DSM_ERR_MALFORMED]       = "malformed message",
    [-DSM_ERR_NO_SPACE]        = "arena has no room",
    [-DSM_ERR_ADDRESS_IN_USE]  = "arena address range already in use",
    [-DSM_ERR_CONFIG]          = "invalid configuration value",
    [-DSM_ERR_NOT_INITIALIZED] = "dsm is not initialized",
    [-DSM_ERR_STATE]           = "not valid in the current state",
    [-DSM_ERR_BOOTSTRAP]       = "job bootstrap failed",
    [-DSM_ERR_CANCELED]        = "canceled by shutdown",
};

const char *dsm_strerror(dsm_status_t status)
{
    size_t index;

    if (status == DSM_INPROGRESS) {
        return "in progress";
    }
    index = (size_t)-(long)status;
    if (status > 0 || index >= sizeof(dsm_status_strings) / sizeof(dsm_status_strings[0]) ||
        dsm_status_strings[index] == NULL) {
        return "unknown status";
    }
    return dsm_status_strings[index];
}

dsm_status_t dsm_status_from_errno(int err)
{
    switch (err) {
    case 0:
        return DSM_OK;
    case EINVAL:
    case EFAULT:
        return DSM_ERR_INVALID_PARAM;
    case ENOMEM:
        return DSM_ERR_NO_MEMORY;
    case ENOSYS:
    case ENOTSUP:
        return DSM_ERR_UNSUPPORTED;
    case EPERM:
    case EACCES:
        return DSM_ERR_PERMISSION;
    case EEXIST:
        return DSM_ERR_EXISTS;
    case EAGAIN:
        return DSM_ERR_AGAIN;
    case ENOENT:
    case ESRCH:
        return DSM_ERR_NO_ENTRY;
    case ETIMEDOUT:
        return DSM_ERR_TIMEOUT;
    case ECONNRESET:
    case ECONNREFUSED:
    case EPIPE:
        return DSM_ERR_PEER_LOST;
    case ENOSPC:
        return DSM_ERR_NO_SPACE;
    case EADDRINUSE:
        return DSM_ERR_ADDRESS_IN_USE;
    default:
        return DSM_ERR_IO;
    }
}
