/*
 * dsm.h - the public API of dsm, a distributed shared memory runtime for HPC codes.
 *
 * Every node (process) of a job maps one shared arena at the same virtual address;
 * plain loads and stores anywhere in it are kept coherent across nodes by a
 * home-based MSI protocol (see docs/design.md).
 *
 * This header is the whole public API. Names beginning with dsm_ and DSM_ are
 * reserved for it.
 */
#ifndef DSM_H
#define DSM_H

#ifdef __cplusplus
extern "C" {
#endif

/*
 * One status type for every call. DSM_OK is zero, failures are negative,
 * DSM_INPROGRESS (positive) means "started, completion reported later".
 * dsm_strerror() maps each to a one-line description.
 */
typedef enum {
    DSM_INPROGRESS              = 1,   /* started; completion is reported later      */
    DSM_OK                      = 0,
    DSM_ERR_INVALID_PARAM       = -1,  /* an argument is out of range or malformed   */
    DSM_ERR_NO_MEMORY           = -2,  /* memory allocation failed                   */
    DSM_ERR_UNSUPPORTED         = -3,  /* the host lacks a feature dsm requires      */
    DSM_ERR_PERMISSION          = -4,  /* the kernel refused the operation           */
    DSM_ERR_IO                  = -5,  /* a system call failed unexpectedly          */
    DSM_ERR_EXISTS              = -6,  /* page already present (recoverable race)    */
    DSM_ERR_AGAIN               = -7,  /* mapping changed under the call: retry      */
    DSM_ERR_NO_ENTRY            = -8,  /* range is not mapped or not registered      */
    DSM_ERR_TIMEOUT             = -9,  /* the operation did not complete in time     */
    DSM_ERR_TRANSPORT           = -10, /* the communication layer failed             */
    DSM_ERR_PEER_LOST           = -11, /* a node of the job died or became unreachable */
    DSM_ERR_AUTH                = -12, /* a peer did not prove the job key           */
    DSM_ERR_MALFORMED           = -13, /* a message failed validation                */
    DSM_ERR_NO_SPACE            = -14, /* the arena has no room for the allocation   */
    DSM_ERR_ADDRESS_IN_USE      = -15, /* the arena's address range is already taken */
    DSM_ERR_CONFIG              = -16, /* a configuration value is invalid           */
    DSM_ERR_NOT_INITIALIZED     = -17, /* dsm_init has not been called (or failed)   */
    DSM_ERR_STATE               = -18, /* the call is not valid in the current state */
    DSM_ERR_BOOTSTRAP           = -19, /* the nodes of the job could not find each other */
    DSM_ERR_CANCELED            = -20  /* the operation was canceled by shutdown      */
} dsm_status_t;

/* A constant one-line description of status; never NULL. */
const char *dsm_strerror(dsm_status_t status);

#ifdef __cplusplus
}
#endif

#endif /* DSM_H */
