/* placeholder until written */
#include "alert.h"
