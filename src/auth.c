/* placeholder until written */
#include "auth.h"
