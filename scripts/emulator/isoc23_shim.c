/* LD_PRELOAD shim for the bochscpu-python 0.4.0 wheel on Debian 12:
 * 1) glibc 2.36 lacks the C23 aliases the wheel references (__isoc23_strtoull/__isoc23_sscanf).
 * 2) bochscpu hard-codes the Bochs CPU model (tigerlake-class, no AVX512_BF16). The Bochs model
 *    factories are called through the PLT, so we interpose them and construct the model named by
 *    $BXRUN_MODEL instead (default: sapphire_rapids -> AVX512F/BW/VL/DQ/CD + AVX512_BF16 + ...). */
#define _GNU_SOURCE
#include <stdlib.h>
#include <stdio.h>
#include <stdarg.h>
#include <string.h>
#include <dlfcn.h>
unsigned long long __isoc23_strtoull(const char* s, char** e, int b) { return strtoull(s, e, b); }
int __isoc23_sscanf(const char* s, const char* fmt, ...) { va_list ap; va_start(ap, fmt); int r = vsscanf(s, fmt, ap); va_end(ap); return r; }

typedef void* (*factory_t)(void*);
static void* make_model(void* cpu, const char* who, void* caller) {
  const char* m = getenv("BXRUN_MODEL");
  char sym[128];
  if (!m || !*m) m = "sapphire_rapids";
  snprintf(sym, sizeof sym, "_Z%zucreate_%s_cpuidP8BX_CPU_C", strlen("create_") + strlen(m) + strlen("_cpuid"), m);
  Dl_info di; void* h = NULL; factory_t f = NULL;
  if (dladdr(caller, &di) && di.dli_fname) h = dlopen(di.dli_fname, RTLD_NOW | RTLD_NOLOAD);
  if (h) f = (factory_t)dlsym(h, sym);
  if (!f) { fprintf(stderr, "[shim] no model %s (%s)\n", m, sym); abort(); }
  if (getenv("BXRUN_VERBOSE")) fprintf(stderr, "[shim] bochs asked for %s, giving %s\n", who, m);
  return f(cpu);
}
#define INTERPOSE(mangled, name) void* mangled(void* cpu) { return make_model(cpu, name, __builtin_return_address(0)); }
INTERPOSE(_Z22create_tigerlake_cpuidP8BX_CPU_C, "tigerlake")
INTERPOSE(_Z29create_corei7_icelake_u_cpuidP8BX_CPU_C, "corei7_icelake_u")
INTERPOSE(_Z29create_corei7_skylake_x_cpuidP8BX_CPU_C, "corei7_skylake_x")
INTERPOSE(_Z23create_corei3_cnl_cpuidP8BX_CPU_C, "corei3_cnl")
