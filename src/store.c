/* placeholder until written */
#include "store.h"
