#include <stdio.h>
#include "hello.h"

const char *hello_greeting(const char *name) {
  static char buf[256];
  snprintf(buf, sizeof buf, "Hello, %s!", name ? name : "world");
  return buf;
}

int hello_api_version(void) { return 1; }
