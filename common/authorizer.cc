#include "common/authorizer.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "proto/auth.pb.h"
#include "spdlog/spdlog.h"

namespace ps {

RoleSet AllowedRoles(const google::protobuf::MethodDescriptor& method) {
  RoleSet roles;
  const google::protobuf::MethodOptions& options = method.options();
  for (int i = 0; i < options.ExtensionSize(v1::allowed_roles); ++i) {
    roles.Add(options.GetExtension(v1::allowed_roles, i));
  }
  return roles;
}

Authorizer::Authorizer(absl::string_view service_full_name,
                       std::shared_ptr<const TransportSecurity> security)
    : service_(service_full_name), security_(std::move(security)) {
  const google::protobuf::ServiceDescriptor* service =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(service_);
  if (service == nullptr) return;  // Every call then answers INTERNAL.
  for (int i = 0; i < service->method_count(); ++i) {
    allowed_[service->method(i)->name()] = AllowedRoles(*service->method(i));
  }
}

grpc::Status Authorizer::Check(const grpc::ServerContextBase& context, absl::string_view method,
                               RoleSet* caller) const {
  const auto policy = allowed_.find(std::string(method));
  if (policy == allowed_.end()) {
    return grpc::Status(grpc::StatusCode::INTERNAL,
                        absl::StrCat("no access policy for ", service_, ".", method));
  }
  absl::StatusOr<RoleSet> roles = security_->PeerRoles(context);
  if (!roles.ok()) {
    spdlog::warn("refused {}.{} from {}: {}", service_, std::string(method), context.peer(),
                 std::string(roles.status().message()));
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, std::string(roles.status().message()));
  }
  if (!roles->Intersects(policy->second)) {
    spdlog::warn("refused {}.{} from {} (roles {}): allowed for {}", service_, std::string(method),
                 context.peer(), roles->ToString(), policy->second.ToString());
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        absl::StrCat(method, " is for ", policy->second.ToString(),
                                     "; the caller's roles are ", roles->ToString()));
  }
  if (caller != nullptr) *caller = *roles;
  return grpc::Status::OK;
}

}  // namespace ps
