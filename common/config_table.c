/* Tables of DSM_* variables: load, unknown-name check, markdown (dsm_config_table.h). */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "dsm_common.h"
#include "dsm_config_parse.h"
#include "dsm_config_table.h"

/* Longest name dsm_config_distance compares, terminator included. */
#define DSM_CONFIG_NAME_MAX 64

extern char **environ;

/* Rows of these types are parsed here; the others are only known. */
static int dsm_config_var_is_loaded(const dsm_config_var_t *var)
{
    return var->type != DSM_CONFIG_TYPE_BOOTSTRAP && var->type != DSM_CONFIG_TYPE_RESERVED;
}

/* A log level, or (warning) the default: a bad level must not stop a job. */
static dsm_status_t dsm_config_parse_log_level(const dsm_config_var_t *var, const char *text,
                                               int64_t *value_p)
{
    dsm_log_level_t level;
    char names[128] = "";
    size_t used = 0, count;

    if (dsm_log_level_parse(text, &level) != DSM_OK) {
        for (count = 0; var->choices[count] != NULL && used < sizeof(names); count++) {
            used += (size_t)snprintf(names + used, sizeof(names) - used, "%s%s",
                                     count ? ", " : "", var->choices[count]);
        }
        dsm_warn("%s='%s' is invalid: expected %s or 0..%zu; using %s", var->name, text, names,
                 count - 1, var->default_text);
        if (dsm_log_level_parse(var->default_text, &level) != DSM_OK) {
            return DSM_ERR_CONFIG; /* a bad table row: the unit test catches it */
        }
    }
    *value_p = level;
    return DSM_OK;
}

static dsm_status_t dsm_config_var_parse(const dsm_config_var_t *var, const char *text,
                                         int64_t *value_p)
{
    uint64_t unsigned_value = 0;
    int int_value = 0;
    dsm_status_t status;

    switch (var->type) {
    case DSM_CONFIG_TYPE_UINT:
        if (var->keyword != NULL && !strcmp(text, var->keyword)) {
            unsigned_value = var->keyword_value;
            status = DSM_OK;
        } else {
            status = dsm_config_parse_u64(var->name, text, (uint64_t)var->min,
                                          (uint64_t)var->max, &unsigned_value);
        }
        break;
    case DSM_CONFIG_TYPE_SIZE:
        status = dsm_config_parse_size(var->name, text, (uint64_t)var->min, (uint64_t)var->max,
                                       &unsigned_value);
        break;
    case DSM_CONFIG_TYPE_INT:
        status = dsm_config_parse_int(var->name, text, (int)var->min, (int)var->max,
                                      &int_value);
        break;
    case DSM_CONFIG_TYPE_BOOL:
        status = dsm_config_parse_bool(var->name, text, &int_value);
        break;
    case DSM_CONFIG_TYPE_CHOICE:
        status = dsm_config_parse_choice(var->name, text, var->choices, &int_value);
        break;
    case DSM_CONFIG_TYPE_LOG_LEVEL:
        return dsm_config_parse_log_level(var, text, value_p);
    default:
        return DSM_ERR_CONFIG; /* never loaded: dsm_config_var_is_loaded */
    }
    if (status != DSM_OK) {
        return status;
    }
    if (var->multiple != 0 && unsigned_value % var->multiple != 0) {
        dsm_error("%s='%s' is invalid: expected a multiple of %" PRIu64, var->name, text,
                  var->multiple);
        return DSM_ERR_CONFIG;
    }
    *value_p = var->type == DSM_CONFIG_TYPE_UINT || var->type == DSM_CONFIG_TYPE_SIZE
                   ? (int64_t)unsigned_value : int_value;
    return DSM_OK;
}

/* The value at slot, int-sized members (int, unsigned, enums) or 8 bytes. */
static void dsm_config_slot_store(const dsm_config_slot_t *slot, void *base, int64_t value)
{
    char *member = (char *)base + slot->offset;

    if (slot->size == sizeof(uint64_t)) {
        uint64_t wide = (uint64_t)value;

        memcpy(member, &wide, sizeof(wide));
    } else {
        int narrow = (int)value;

        memcpy(member, &narrow, sizeof(narrow));
    }
}

/* The text form of var's member of user, so that it is checked by the same
 * parser as the environment. */
static const char *dsm_config_user_text(const dsm_config_var_t *var, const dsm_config_t *user,
                                        char *buffer, size_t size)
{
    const char *member = (const char *)user + var->user.offset;
    const char *string;
    uint64_t wide;
    int narrow;

    if (var->user.is_string) {
        memcpy(&string, member, sizeof(string));
        return string != NULL ? string : "(null)";
    }
    if (var->user.size == sizeof(uint64_t)) {
        /* 64-bit integers that are not sizes are addresses: say them in hex. */
        memcpy(&wide, member, sizeof(wide));
        snprintf(buffer, size, var->type == DSM_CONFIG_TYPE_SIZE ? "%" PRIu64 : "0x%" PRIx64,
                 wide);
        return buffer;
    }
    memcpy(&narrow, member, sizeof(narrow));
    if (var->type == DSM_CONFIG_TYPE_CHOICE && narrow >= 0) {
        for (int i = 0; var->choices[i] != NULL; i++) {
            if (i == narrow) {
                return var->choices[i];
            }
        }
    }
    if (var->type == DSM_CONFIG_TYPE_UINT) {
        snprintf(buffer, size, "%u", (unsigned)narrow);
    } else {
        snprintf(buffer, size, "%d", var->type == DSM_CONFIG_TYPE_BOOL ? narrow != 0 : narrow);
    }
    return buffer;
}

/* A PATH row's text as it came (the user's string or the environment's,
 * which outlive the load); NULL for an empty one or a NULL member. */
static void dsm_config_path_store(const dsm_config_var_t *var, const dsm_config_t *user,
                                  const char *text, void *fields)
{
    const char *path = text;

    if (user != NULL && (user->field_mask & var->user_bit)) {
        memcpy(&path, (const char *)user + var->user.offset, sizeof(path));
    }
    if (path != NULL && path[0] == '\0') {
        path = NULL;
    }
    memcpy((char *)fields + var->field.offset, &path, sizeof(path));
}

dsm_status_t dsm_config_table_load(const dsm_config_table_t *table, const dsm_config_t *user,
                                   void *fields)
{
    uint64_t known_bits = 0;

    for (size_t i = 0; i < table->count; i++) {
        const dsm_config_var_t *var = &table->vars[i];
        const char *text = var->default_text;
        const char *env;
        char user_text[64];
        int64_t value;
        dsm_status_t status;

        if (!dsm_config_var_is_loaded(var)) {
            continue;
        }
        known_bits |= var->user_bit;
        if (user != NULL && (user->field_mask & var->user_bit)) {
            text = dsm_config_user_text(var, user, user_text, sizeof(user_text));
        } else if ((env = dsm_config_getenv(var->name)) != NULL) {
            text = env;
        }
        if (var->type == DSM_CONFIG_TYPE_PATH) {
            dsm_config_path_store(var, user, text, fields);
            continue;
        }
        status = dsm_config_var_parse(var, text, &value);
        if (status != DSM_OK) {
            return status;
        }
        dsm_config_slot_store(&var->field, fields, value);
    }
    if (user != NULL && (user->field_mask & ~known_bits)) {
        dsm_error("dsm_config_t.field_mask has unknown bits 0x%" PRIx64,
                  user->field_mask & ~known_bits);
        return DSM_ERR_CONFIG;
    }
    return DSM_OK;
}

/* ---- unknown names ------------------------------------------------------- */

size_t dsm_config_distance(const char *a, const char *b)
{
    /* Three rows of the distance matrix: i-2, i-1 and i (for transpositions). */
    size_t rows[3][DSM_CONFIG_NAME_MAX];
    size_t la = strlen(a), lb = strlen(b);

    if (la >= DSM_CONFIG_NAME_MAX || lb >= DSM_CONFIG_NAME_MAX) {
        return SIZE_MAX;
    }
    for (size_t j = 0; j <= lb; j++) {
        rows[0][j] = j;
    }
    for (size_t i = 1; i <= la; i++) {
        size_t *prev2 = rows[(i + 1) % 3], *prev = rows[(i - 1) % 3], *row = rows[i % 3];

        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            int ca = toupper((unsigned char)a[i - 1]), cb = toupper((unsigned char)b[j - 1]);
            size_t best = prev[j - 1] + (ca != cb);

            best = prev[j] + 1 < best ? prev[j] + 1 : best;
            best = row[j - 1] + 1 < best ? row[j - 1] + 1 : best;
            if (i > 1 && j > 1 && ca == toupper((unsigned char)b[j - 2]) &&
                toupper((unsigned char)a[i - 2]) == cb && prev2[j - 2] + 1 < best) {
                best = prev2[j - 2] + 1;
            }
            row[j] = best;
        }
    }
    return rows[la % 3][lb];
}

const char *dsm_config_table_suggest(const dsm_config_table_t *table, const char *name)
{
    const char *best = NULL;
    size_t best_distance = SIZE_MAX;

    for (size_t i = 0; i < table->count; i++) {
        const char *known = table->vars[i].name;
        size_t distance = dsm_config_distance(name, known);

        /* Close: a typo or two, more in longer names (one in 6 characters). */
        if (distance <= 1 + strlen(known) / 6 && distance < best_distance) {
            best = known;
            best_distance = distance;
        }
    }
    return best;
}

static int dsm_config_table_knows(const dsm_config_table_t *table, const char *name)
{
    for (size_t i = 0; i < table->count; i++) {
        if (!strcmp(table->vars[i].name, name)) {
            return 1;
        }
    }
    return 0;
}

void dsm_config_table_check_environment(const dsm_config_table_t *table)
{
    for (char **entry = environ; *entry != NULL; entry++) {
        char name[DSM_CONFIG_NAME_MAX * 2];
        size_t length = strcspn(*entry, "=");
        const char *suggestion;

        if (strncmp(*entry, "DSM_", 4) != 0) {
            continue;
        }
        snprintf(name, sizeof(name), "%.*s", (int)length, *entry);
        if (dsm_config_table_knows(table, name)) {
            continue;
        }
        suggestion = dsm_config_table_suggest(table, name);
        if (suggestion != NULL) {
            dsm_warn("%s is not a dsm variable; did you mean %s?", name, suggestion);
        } else {
            dsm_warn("%s is not a dsm variable (docs/config.md lists them)", name);
        }
    }
}

/* ---- markdown ------------------------------------------------------------ */

/* bytes with the largest binary unit that divides it: "4 KiB", "64 TiB". */
static void dsm_config_print_size(FILE *out, uint64_t bytes)
{
    static const char *const units[] = { "bytes", "KiB", "MiB", "GiB", "TiB", "PiB" };
    size_t unit = 0;

    while (unit + 1 < sizeof(units) / sizeof(units[0]) && bytes != 0 && bytes % 1024 == 0) {
        bytes /= 1024;
        unit++;
    }
    fprintf(out, "%" PRIu64 " %s", bytes, units[unit]);
}

static void dsm_config_print_names(FILE *out, const char *const *names)
{
    for (size_t i = 0; names[i] != NULL; i++) {
        fprintf(out, "%s`%s`", i ? ", " : "", names[i]);
    }
}

/* What var accepts, derived from its type and range unless the row says. */
static void dsm_config_print_accepted(FILE *out, const dsm_config_var_t *var)
{
    size_t count = 0;

    if (var->accepted != NULL) {
        fputs(var->accepted, out);
        return;
    }
    switch (var->type) {
    case DSM_CONFIG_TYPE_UINT:
    case DSM_CONFIG_TYPE_INT:
        if (var->keyword != NULL) {
            fprintf(out, "`%s`, or ", var->keyword);
        }
        fprintf(out, "%" PRId64 " .. %" PRId64, var->min, var->max);
        break;
    case DSM_CONFIG_TYPE_SIZE:
        fputs("a byte count with optional suffix `K`, `M`, `G`, `T` (binary), ", out);
        dsm_config_print_size(out, (uint64_t)var->min);
        fputs(" .. ", out);
        dsm_config_print_size(out, (uint64_t)var->max);
        break;
    case DSM_CONFIG_TYPE_BOOL:
        fputs("`1`/`0`, `yes`/`no`, `on`/`off`, `true`/`false`", out);
        break;
    case DSM_CONFIG_TYPE_PATH:
        fputs("a directory path", out);
        break;
    case DSM_CONFIG_TYPE_CHOICE:
        dsm_config_print_names(out, var->choices);
        break;
    case DSM_CONFIG_TYPE_LOG_LEVEL:
        dsm_config_print_names(out, var->choices);
        while (var->choices[count] != NULL) {
            count++;
        }
        fprintf(out, " or `0`..`%zu`", count - 1);
        break;
    default:
        break;
    }
    if (var->unit != NULL) {
        fprintf(out, " (%s)", var->unit);
    }
    if (var->multiple != 0) {
        fprintf(out, "; a multiple of %" PRIu64, var->multiple);
    }
}

void dsm_config_table_print_markdown(const dsm_config_table_t *table, FILE *out)
{
    fputs("| variable | default | accepted | meaning |\n|---|---|---|---|\n", out);
    for (size_t i = 0; i < table->count; i++) {
        const dsm_config_var_t *var = &table->vars[i];

        if (var->type == DSM_CONFIG_TYPE_RESERVED) {
            continue;
        }
        if (var->default_text[0] == '\0') {
            fprintf(out, "| `%s` | (none) | ", var->name);
        } else {
            fprintf(out, dsm_config_var_is_loaded(var) ? "| `%s` | `%s` | " : "| `%s` | %s | ",
                    var->name, var->default_text);
        }
        dsm_config_print_accepted(out, var);
        fprintf(out, " | %s |\n", var->help);
    }
    fputs("\nReserved for the test harness: read by a test script, never by dsm, and not "
          "reported as unknown.\n\n| variable | default | meaning |\n|---|---|---|\n", out);
    for (size_t i = 0; i < table->count; i++) {
        const dsm_config_var_t *var = &table->vars[i];

        if (var->type == DSM_CONFIG_TYPE_RESERVED) {
            fprintf(out, "| `%s` | %s | %s |\n", var->name, var->default_text, var->help);
        }
    }
}
