/*
 * A table of DSM_* variables: one row per variable holds its name, default,
 * accepted values, where its value goes and its documentation. The same rows
 * feed the parser (dsm_config_table_load), the check for unknown DSM_* names
 * (dsm_config_table_check_environment) and docs/config.md
 * (dsm_config_table_print_markdown, through dsm-info --config-markdown).
 */
#ifndef DSM_CONFIG_TABLE_H
#define DSM_CONFIG_TABLE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dsm.h"

typedef enum {
    DSM_CONFIG_TYPE_UINT,      /* decimal or 0x hex integer in [min, max]                 */
    DSM_CONFIG_TYPE_INT,       /* decimal integer, optionally negative, in [min, max]     */
    DSM_CONFIG_TYPE_SIZE,      /* byte count with an optional K, M, G, T suffix           */
    DSM_CONFIG_TYPE_BOOL,      /* 1/0, yes/no, on/off, true/false                         */
    DSM_CONFIG_TYPE_CHOICE,    /* one of choices, stored as its index                     */
    DSM_CONFIG_TYPE_LOG_LEVEL, /* a dsm_log_level_names entry or its number; a bad value
                                * warns and the default is used (the job goes on)         */
    DSM_CONFIG_TYPE_PATH,      /* a file system path, kept as the string it came as (a
                                * const char * member; NULL when empty or unset)          */
    DSM_CONFIG_TYPE_BOOTSTRAP, /* read and checked by the bootstrap (boot/) as the
                                * node joins; listed so it is known and documented        */
    DSM_CONFIG_TYPE_RESERVED   /* read by a test script, never by dsm; listed so it is
                                * not reported as unknown                                 */
} dsm_config_type_t;

/* A member of a structure: where it is, its size (an int-sized integer or enum,
 * or 8 bytes), and whether it is a string (const char *). */
typedef struct {
    size_t offset;
    size_t size;
    int    is_string;
} dsm_config_slot_t;

#define DSM_CONFIG_SLOT(type, member)                                                    \
    { offsetof(type, member), sizeof(((type *)0)->member),                               \
      _Generic(((type *)0)->member, const char *: 1, default: 0) }

typedef struct {
    const char         *name;
    const char         *default_text; /* parsed when nothing sets the variable; for the
                                       * BOOTSTRAP and RESERVED types, markdown for docs */
    dsm_config_type_t   type;
    int64_t             min, max;     /* UINT, INT, SIZE                                  */
    uint64_t            multiple;     /* UINT, SIZE: the value is a multiple of it (0: any) */
    const char         *keyword;      /* UINT: a word that means keyword_value ("auto")   */
    uint64_t            keyword_value;
    const char *const  *choices;      /* CHOICE, LOG_LEVEL: NULL-terminated               */
    dsm_config_slot_t   field;        /* where the value goes in the structure loaded     */
    uint64_t            user_bit;     /* the DSM_CONFIG_FIELD_* that overrides it (0: none) */
    dsm_config_slot_t   user;         /* that dsm_config_t member                         */
    const char         *unit;         /* docs: "pages", "seconds"... (NULL: none)         */
    const char         *accepted;     /* docs: what it accepts, when the type cannot say  */
    const char         *help;         /* docs: what it does (markdown)                    */
} dsm_config_var_t;

typedef struct {
    const dsm_config_var_t *vars;
    size_t                  count;
} dsm_config_table_t;

/*
 * Fill fields (the structure the table's field slots point into) from the
 * table: a member of user (may be NULL) named in its field_mask wins, else the
 * environment variable, else the default. Every value, whatever its source, is
 * checked by the same parser. DSM_ERR_CONFIG after logging why.
 */
dsm_status_t dsm_config_table_load(const dsm_config_table_t *table, const dsm_config_t *user,
                                   void *fields);

/* Warn about every DSM_* environment variable that is not in table, with the
 * closest known name when one is close. */
void dsm_config_table_check_environment(const dsm_config_table_t *table);

/* The known name closest to name (edit distance, any case), or NULL if none is close. */
const char *dsm_config_table_suggest(const dsm_config_table_t *table, const char *name);

/* Damerau-Levenshtein distance (adjacent transpositions count one), any case;
 * SIZE_MAX for strings longer than 63 characters. */
size_t dsm_config_distance(const char *a, const char *b);

/* The table as the markdown docs/config.md holds. */
void dsm_config_table_print_markdown(const dsm_config_table_t *table, FILE *out);

#endif /* DSM_CONFIG_TABLE_H */
