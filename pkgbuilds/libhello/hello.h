#ifndef HELLO_H
#define HELLO_H
/* Returns a greeting for name; the string is static. */
const char *hello_greeting(const char *name);
int hello_api_version(void);
#endif
