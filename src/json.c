/* placeholder until written */
#include "json.h"
