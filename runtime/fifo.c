/* A growable FIFO of fixed-size elements (a ring that doubles when full). */
#include <stdlib.h>
#include <string.h>

#include "dsm_rt.h"

void dsm_rt_fifo_init(dsm_rt_fifo_t *fifo, size_t element_size)
{
    memset(fifo, 0, sizeof(*fifo));
    fifo->element_size = element_size;
}

void dsm_rt_fifo_fini(dsm_rt_fifo_t *fifo)
{
    free(fifo->elements);
    fifo->elements = NULL;
    fifo->head = fifo->count = fifo->capacity = 0;
}

static void *dsm_rt_fifo_at(const dsm_rt_fifo_t *fifo, size_t position)
{
    return (char *)fifo->elements +
           ((fifo->head + position) % fifo->capacity) * fifo->element_size;
}

/* Double the capacity, moving the elements to the front in FIFO order. */
static dsm_status_t dsm_rt_fifo_grow(dsm_rt_fifo_t *fifo)
{
    size_t capacity = fifo->capacity ? 2 * fifo->capacity : 16;
    char *elements = malloc(capacity * fifo->element_size);

    if (elements == NULL) {
        return DSM_ERR_NO_MEMORY;
    }
    for (size_t i = 0; i < fifo->count; i++) {
        memcpy(elements + i * fifo->element_size, dsm_rt_fifo_at(fifo, i), fifo->element_size);
    }
    free(fifo->elements);
    fifo->elements = elements;
    fifo->head = 0;
    fifo->capacity = capacity;
    return DSM_OK;
}

dsm_status_t dsm_rt_fifo_push(dsm_rt_fifo_t *fifo, const void *element)
{
    if (fifo->count == fifo->capacity) {
        dsm_status_t status = dsm_rt_fifo_grow(fifo);

        if (status != DSM_OK) {
            return status;
        }
    }
    memcpy(dsm_rt_fifo_at(fifo, fifo->count), element, fifo->element_size);
    fifo->count++;
    return DSM_OK;
}

int dsm_rt_fifo_pop(dsm_rt_fifo_t *fifo, void *element_p)
{
    if (fifo->count == 0) {
        return 0;
    }
    memcpy(element_p, dsm_rt_fifo_at(fifo, 0), fifo->element_size);
    fifo->head = (fifo->head + 1) % fifo->capacity;
    fifo->count--;
    return 1;
}

int dsm_rt_fifo_peek(const dsm_rt_fifo_t *fifo, void *element_p)
{
    if (fifo->count == 0) {
        return 0;
    }
    memcpy(element_p, dsm_rt_fifo_at(fifo, 0), fifo->element_size);
    return 1;
}
