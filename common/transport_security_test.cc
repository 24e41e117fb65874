// TransportSecurity's checks of its files and options, and the role policy in the protos, with
// certificates from deploy/make_certs.sh.
#include "common/transport_security.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/authorizer.h"
#include "common/file_util.h"
#include "google/protobuf/descriptor.h"
#include "gtest/gtest.h"
#include "proto/coordinator.pb.h"
#include "proto/parameter_server.pb.h"
#include "tests/harness/daemon_process.h"
#include "tests/harness/test_certs.h"

namespace ps {
namespace {

using ::ps::testing::MakeCertificates;
using ::ps::testing::MakeTempDir;
using ::ps::testing::TlsOptions;

class TransportSecurityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(MakeTempDir("certs"));
    other_ = new std::string(MakeTempDir("other-ca"));
    ASSERT_TRUE(MakeCertificates(*dir_, {"server=server", "chief=worker+admin", "nobody="}).ok());
    ASSERT_TRUE(MakeCertificates(*dir_, {"old=worker", "--expired"}).ok());
    ASSERT_TRUE(MakeCertificates(*other_, {"worker=worker"}).ok());
  }
  static std::string* dir_;
  static std::string* other_;
};
std::string* TransportSecurityTest::dir_ = nullptr;
std::string* TransportSecurityTest::other_ = nullptr;

TEST_F(TransportSecurityTest, ReadsTheRolesOfACertificate) {
  for (const auto& [name, roles] : {std::pair<std::string, std::string>{"server", "server"},
                                    {"chief", "worker,admin"},
                                    {"nobody", "none"}}) {
    absl::StatusOr<std::string> pem = ReadFileToString(absl::StrCat(*dir_, "/", name, ".pem"));
    ASSERT_TRUE(pem.ok()) << pem.status();
    absl::StatusOr<CertificateFacts> facts = InspectCertificate(*pem);
    ASSERT_TRUE(facts.ok()) << facts.status();
    EXPECT_EQ(facts->roles.ToString(), roles) << name;
    EXPECT_NE(facts->subject.find("CN=" + name), std::string::npos) << facts->subject;
    EXPECT_GT(facts->not_after, absl::Now() + absl::Hours(24 * 300));
  }
  EXPECT_FALSE(InspectCertificate("not a certificate").ok());
}

TEST_F(TransportSecurityTest, AcceptsAGoodCertificateAndDescribesIt) {
  absl::StatusOr<std::shared_ptr<TransportSecurity>> security =
      TransportSecurity::Create(TlsOptions(*dir_, "chief"));
  ASSERT_TRUE(security.ok()) << security.status();
  EXPECT_TRUE((*security)->tls());
  EXPECT_NE((*security)->Describe().find("roles worker,admin"), std::string::npos)
      << (*security)->Describe();
  // TLS may listen anywhere; a reload of unchanged files succeeds.
  EXPECT_TRUE((*security)->CheckListenAddress("0.0.0.0").ok());
  EXPECT_TRUE((*security)->Reload().ok());
}

TEST_F(TransportSecurityTest, RefusesBadFilesWithTheReason) {
  const auto refused = [](const SecurityOptions& options, absl::StatusCode code,
                          const std::string& words) {
    absl::StatusOr<std::shared_ptr<TransportSecurity>> security =
        TransportSecurity::Create(options);
    ASSERT_FALSE(security.ok()) << words;
    EXPECT_EQ(security.status().code(), code) << security.status();
    EXPECT_NE(security.status().message().find(words), absl::string_view::npos)
        << security.status();
  };
  SecurityOptions expired = TlsOptions(*dir_, "old");
  refused(expired, absl::StatusCode::kFailedPrecondition, "certificate has expired");
  SecurityOptions foreign = TlsOptions(*other_, "worker");
  foreign.ca_file = *dir_ + "/ca.pem";
  refused(foreign, absl::StatusCode::kFailedPrecondition, "does not verify against the CA");
  SecurityOptions mismatched = TlsOptions(*dir_, "server");
  mismatched.key_file = *dir_ + "/chief.key";
  refused(mismatched, absl::StatusCode::kInvalidArgument, "is not the key of the certificate");
  SecurityOptions partial = TlsOptions(*dir_, "server");
  partial.ca_file.clear();
  refused(partial, absl::StatusCode::kInvalidArgument, "all three");
  SecurityOptions missing = TlsOptions(*dir_, "server");
  missing.cert_file = *dir_ + "/absent.pem";
  refused(missing, absl::StatusCode::kNotFound, "absent.pem");
  SecurityOptions garbage = TlsOptions(*dir_, "server");
  garbage.cert_file = *dir_ + "/server.key";
  refused(garbage, absl::StatusCode::kInvalidArgument, "holds no PEM certificate");
  SecurityOptions with_tokens = TlsOptions(*dir_, "server");
  with_tokens.token_file = *dir_ + "/server.key";
  refused(with_tokens, absl::StatusCode::kInvalidArgument, "tokens are for plaintext");
}

TEST_F(TransportSecurityTest, ReloadKeepsTheOldFilesWhenTheNewOnesAreBad) {
  const std::string dir = MakeTempDir("reload");
  ASSERT_TRUE(MakeCertificates(dir, {"server=server"}).ok());
  absl::StatusOr<std::shared_ptr<TransportSecurity>> security =
      TransportSecurity::Create(TlsOptions(dir, "server"));
  ASSERT_TRUE(security.ok()) << security.status();
  ASSERT_TRUE(WriteFileAtomically(dir + "/server.pem", "garbage").ok());
  const absl::Status reloaded = (*security)->Reload();
  EXPECT_FALSE(reloaded.ok());
  EXPECT_NE((*security)->Describe().find("CN=server"), std::string::npos);
  // A new certificate for the same key name takes over.
  ASSERT_TRUE(MakeCertificates(dir, {"server=server+admin"}).ok());
  ASSERT_TRUE((*security)->Reload().ok());
  EXPECT_NE((*security)->Describe().find("roles server,admin"), std::string::npos)
      << (*security)->Describe();
}

TEST(TransportSecurityTokensTest, ReadsRoleTokensAndRefusesBadOnes) {
  const std::string dir = MakeTempDir("tokens");
  ASSERT_TRUE(WriteFileAtomically(dir + "/good",
                                  "# roles\nworker 0123456789abcdef0123\n"
                                  "admin  fedcba9876543210fedc\n"
                                  "worker fedcba9876543210fedc\n")
                  .ok());
  SecurityOptions options;
  options.role_tokens_file = dir + "/good";
  absl::StatusOr<std::shared_ptr<TransportSecurity>> security = TransportSecurity::Create(options);
  ASSERT_TRUE(security.ok()) << security.status();
  EXPECT_FALSE((*security)->tls());
  EXPECT_NE((*security)->Describe().find("2 tokens"), std::string::npos) << (*security)->Describe();
  for (const auto& [text, words] :
       {std::pair<std::string, std::string>{"wizard 0123456789abcdef0123\n", "unknown role"},
        {"worker short\n", "at least 16"},
        {"worker\n", "expected `ROLE TOKEN`"},
        {"# nothing\n", "lists no token"}}) {
    ASSERT_TRUE(WriteFileAtomically(dir + "/bad", text).ok());
    options.role_tokens_file = dir + "/bad";
    absl::StatusOr<std::shared_ptr<TransportSecurity>> bad = TransportSecurity::Create(options);
    ASSERT_FALSE(bad.ok()) << text;
    EXPECT_NE(bad.status().message().find(words), absl::string_view::npos) << bad.status();
  }
}

TEST(TransportSecurityListenTest, PlaintextOnlyOnLoopbackUnlessInsecure) {
  std::shared_ptr<const TransportSecurity> plaintext = TransportSecurity::Plaintext();
  EXPECT_TRUE(plaintext->CheckListenAddress("127.0.0.1").ok());
  EXPECT_TRUE(plaintext->CheckListenAddress("localhost").ok());
  const absl::Status refused = plaintext->CheckListenAddress("0.0.0.0");
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.message().find("--insecure"), absl::string_view::npos);
  SecurityOptions insecure;
  insecure.insecure = true;
  absl::StatusOr<std::shared_ptr<TransportSecurity>> allowed = TransportSecurity::Create(insecure);
  ASSERT_TRUE(allowed.ok());
  EXPECT_TRUE((*allowed)->CheckListenAddress("10.1.2.3").ok());
}

// Every rpc names who may call it, and the sensitive ones name exactly the expected roles.
TEST(RolePolicyTest, EveryRpcListsItsRoles) {
  const google::protobuf::DescriptorPool* pool = google::protobuf::DescriptorPool::generated_pool();
  int methods = 0;
  for (const char* name : {"ps.v1.Coordinator", "ps.v1.ParameterServer"}) {
    const google::protobuf::ServiceDescriptor* service = pool->FindServiceByName(name);
    ASSERT_NE(service, nullptr) << name;
    for (int i = 0; i < service->method_count(); ++i) {
      EXPECT_FALSE(AllowedRoles(*service->method(i)).empty()) << service->method(i)->full_name();
      ++methods;
    }
  }
  EXPECT_EQ(methods, 23);
  const auto roles = [&](const std::string& method) {
    return AllowedRoles(*pool->FindMethodByName(method)).ToString();
  };
  EXPECT_EQ(roles("ps.v1.Coordinator.RegisterServer"), "server");
  EXPECT_EQ(roles("ps.v1.Coordinator.CreateTable"), "worker,admin");
  EXPECT_EQ(roles("ps.v1.Coordinator.Checkpoint"), "admin");
  EXPECT_EQ(roles("ps.v1.Coordinator.Drain"), "admin");
  EXPECT_EQ(roles("ps.v1.ParameterServer.Replicate"), "server");
  EXPECT_EQ(roles("ps.v1.ParameterServer.FetchShardSnapshot"), "server");
  EXPECT_EQ(roles("ps.v1.ParameterServer.Push"), "worker");
  EXPECT_EQ(roles("ps.v1.ParameterServer.Checkpoint"), "coordinator");
}

}  // namespace
}  // namespace ps
