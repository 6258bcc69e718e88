/* placeholder until written */
#include "tls.h"
