/* placeholder until written */
#include "datadog.h"
