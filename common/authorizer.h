// Which callers may call which rpc: the `allowed_roles` option of each method in the proto
// (proto/auth.proto), checked against the caller's roles (TransportSecurity::PeerRoles) at the
// start of every handler. Immutable after construction; thread-safe.
#ifndef PS_COMMON_AUTHORIZER_H_
#define PS_COMMON_AUTHORIZER_H_

#include <map>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "common/transport_security.h"
#include "google/protobuf/descriptor.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/status.h"

namespace ps {

// The roles `method`'s allowed_roles option lists (empty when it lists none).
RoleSet AllowedRoles(const google::protobuf::MethodDescriptor& method);

class Authorizer {
 public:
  // The policy of every method of the service named `service_full_name` ("ps.v1.Coordinator"),
  // which must be linked in.
  Authorizer(absl::string_view service_full_name,
             std::shared_ptr<const TransportSecurity> security);

  // OK when the caller has a role `method` ("Push") allows, with its roles in `*caller` when
  // given; UNAUTHENTICATED when it has no credential, PERMISSION_DENIED when its roles are not
  // allowed, INTERNAL for a method the service does not have (fails closed).
  grpc::Status Check(const grpc::ServerContextBase& context, absl::string_view method,
                     RoleSet* caller = nullptr) const;

 private:
  std::string service_;
  std::shared_ptr<const TransportSecurity> security_;
  std::map<std::string, RoleSet> allowed_;
};

}  // namespace ps

#endif  // PS_COMMON_AUTHORIZER_H_
