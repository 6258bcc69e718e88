/* placeholder until written */
#include "log.h"
