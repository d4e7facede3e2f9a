#include <dsm.h>
#include <stdio.h>
#include <string.h>
int main(void) { return strcmp(dsm_strerror(DSM_OK), "success") != 0; }
