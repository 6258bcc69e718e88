/* placeholder until written */
#include "newrelic.h"
