/* placeholder until written */
#include "text.h"
