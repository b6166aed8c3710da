#include <stdio.h>
#include <hello.h>

int main(int argc, char **argv) {
  puts(hello_greeting(argc > 1 ? argv[1] : NULL));
  return hello_api_version() == 1 ? 0 : 1;
}
