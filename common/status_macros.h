// RETURN_IF_ERROR / ASSIGN_OR_RETURN: the two helpers every component uses to
// pass absl::Status errors up without exceptions.
#ifndef CVISOR_COMMON_STATUS_MACROS_H_
#define CVISOR_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define CV_CONCAT_INNER_(a, b) a##b
#define CV_CONCAT_(a, b) CV_CONCAT_INNER_(a, b)

#define RETURN_IF_ERROR(expr)                \
  do {                                       \
    ::absl::Status cv_status_ = (expr);      \
    if (!cv_status_.ok()) return cv_status_; \
  } while (0)

#define ASSIGN_OR_RETURN(lhs, expr) \
  CV_ASSIGN_OR_RETURN_IMPL_(CV_CONCAT_(cv_statusor_, __LINE__), lhs, expr)

#define CV_ASSIGN_OR_RETURN_IMPL_(var, lhs, expr) \
  auto var = (expr);                              \
  if (!var.ok()) return std::move(var).status();  \
  lhs = std::move(var).value()

#endif  // CVISOR_COMMON_STATUS_MACROS_H_
