/* placeholder until written */
#include "sentry.h"
