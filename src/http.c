/* placeholder until written */
#include "http.h"
