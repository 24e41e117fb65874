// Mutual TLS, roles and tokens on real processes (README "Security"): a cluster whose every
// daemon runs with certificates from deploy/make_certs.sh trains; strangers (no certificate, one
// from another CA, an expired one) are refused at the handshake; a worker's certificate cannot
// register a server, replicate, create a table or checkpoint, and changes nothing; a certificate
// naming no role is refused by every rpc of both services; SIGHUP re-reads the coordinator's
// certificate without dropping a member. Tokens do the same on plaintext.
#include <signal.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/file_util.h"
#include "common/grpc_endpoint.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"
#include "gtest/gtest.h"
#include "proto/coordinator.grpc.pb.h"
#include "proto/parameter_server.grpc.pb.h"
#include "tests/harness/daemon_process.h"
#include "tests/harness/local_cluster.h"
#include "tests/harness/raw_call.h"
#include "tests/harness/small_training.h"
#include "tests/harness/test_certs.h"
#include "worker/client/ps_client.h"

namespace ps::testing {
namespace {

const std::vector<std::string> kShortTraining = SmallTrainingArgs(/*epochs=*/1);

std::string Read(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  return text.ok() ? *text : "";
}

// A TLS channel made with gRPC's own API from PEM text, bypassing TransportSecurity's checks of
// its own files (an expired or foreign certificate must reach the server to be refused there).
std::shared_ptr<grpc::Channel> RawTlsChannel(const std::string& address, const std::string& dir,
                                             const std::string& name, const std::string& ca) {
  auto provider = std::make_shared<grpc::experimental::StaticDataCertificateProvider>(
      Read(ca), std::vector<grpc::experimental::IdentityKeyCertPair>{
                    {Read(dir + "/" + name + ".key"), Read(dir + "/" + name + ".pem")}});
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(provider);
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  grpc::ChannelArguments arguments;
  arguments.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(address, grpc::experimental::TlsCredentials(options), arguments);
}

// GetClusterStatus over `channel`; `common_name` receives the coordinator certificate's CN.
grpc::Status AskStatus(const std::shared_ptr<grpc::Channel>& channel,
                       v1::ClusterStatus* status = nullptr, std::string* common_name = nullptr) {
  auto stub = v1::Coordinator::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  v1::ClusterStatus answer;
  grpc::Status result = stub->GetClusterStatus(&context, {}, &answer);
  if (status != nullptr) *status = answer;
  if (common_name != nullptr && context.auth_context() != nullptr) {
    for (const grpc::string_ref& cn :
         context.auth_context()->FindPropertyValues("x509_common_name")) {
      *common_name = std::string(cn.data(), cn.size());
    }
  }
  return result;
}

grpc::ByteBuffer Empty() {
  grpc::Slice slice("", 0);
  return grpc::ByteBuffer(&slice, 1);
}

// The code every rpc of both services answers a caller of `security` with (streaming rpcs
// through the typed stubs, unary ones raw). Returns method name -> code.
std::map<std::string, grpc::StatusCode> CallEveryRpc(const std::string& coordinator,
                                                     const std::string& server,
                                                     const TransportSecurity& security) {
  std::map<std::string, grpc::StatusCode> codes;
  const google::protobuf::DescriptorPool* pool = google::protobuf::DescriptorPool::generated_pool();
  for (const auto& [service_name, address] :
       {std::pair<std::string, std::string>{"ps.v1.Coordinator", coordinator},
        {"ps.v1.ParameterServer", server}}) {
    const google::protobuf::ServiceDescriptor* service = pool->FindServiceByName(service_name);
    for (int i = 0; i < service->method_count(); ++i) {
      const google::protobuf::MethodDescriptor* method = service->method(i);
      if (method->client_streaming() || method->server_streaming()) continue;
      const RawAnswer answer =
          RawUnaryCall(address, absl::StrCat("/", service_name, "/", method->name()), Empty(),
                       absl::Seconds(5), security);
      codes[method->full_name()] = answer.status.error_code();
    }
  }
  const auto deadline = [] { return absl::ToChronoTime(absl::Now() + absl::Seconds(5)); };
  {
    auto stub = v1::Coordinator::NewStub(OpenFreshChannel(coordinator, security));
    grpc::ClientContext context;
    context.set_deadline(deadline());
    auto reader = stub->WatchClusterMap(&context, {});
    v1::ClusterMap map;
    while (reader->Read(&map)) {
    }
    codes["ps.v1.Coordinator.WatchClusterMap"] = reader->Finish().error_code();
  }
  auto stub = v1::ParameterServer::NewStub(OpenFreshChannel(server, security));
  {
    grpc::ClientContext context;
    context.set_deadline(deadline());
    v1::PushResponse response;
    auto writer = stub->PushStream(&context, &response);
    writer->WritesDone();
    codes["ps.v1.ParameterServer.PushStream"] = writer->Finish().error_code();
  }
  {
    grpc::ClientContext context;
    context.set_deadline(deadline());
    auto reader = stub->FetchShardSnapshot(&context, {});
    v1::ShardSnapshotChunk chunk;
    while (reader->Read(&chunk)) {
    }
    codes["ps.v1.ParameterServer.FetchShardSnapshot"] = reader->Finish().error_code();
  }
  return codes;
}

class SecurityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(MakeTempDir("certs"));
    other_ = new std::string(MakeTempDir("other-ca"));
    ASSERT_TRUE(MakeCertificates(*dir_).ok());  // coordinator, server, worker, admin, chief.
    ASSERT_TRUE(MakeCertificates(*dir_, {"nobody="}).ok());
    ASSERT_TRUE(MakeCertificates(*dir_, {"expired=admin", "--expired"}).ok());
    ASSERT_TRUE(MakeCertificates(*other_, {"admin=admin"}).ok());
  }
  static std::string* dir_;
  static std::string* other_;
};
std::string* SecurityTest::dir_ = nullptr;
std::string* SecurityTest::other_ = nullptr;

TEST_F(SecurityTest, ATlsClusterTrainsAndRefusesEveryoneOutsideTheirRole) {
  const std::string& dir = *dir_;
  absl::StatusOr<std::shared_ptr<TransportSecurity>> admin = TlsAs(dir, "admin");
  ASSERT_TRUE(admin.ok()) << admin.status();
  LocalClusterOptions options;
  options.servers = 2;
  options.workers = 2;
  options.num_shards = 4;
  options.failure_timeout_ms = 5000;  // Training keeps both cores busy.
  options.coordinator_args = TlsFlags(dir, "coordinator");
  options.server_args = TlsFlags(dir, "server");
  // The chief creates the job's tables; the other worker may only join them.
  options.per_worker_args = {TlsFlags(dir, "chief"), TlsFlags(dir, "worker")};
  options.worker_args = kShortTraining;
  options.security = *admin;
  absl::StatusOr<std::unique_ptr<LocalCluster>> cluster = LocalCluster::Start(options);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  LocalCluster& c = **cluster;
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(c.worker(i).Wait(absl::Seconds(180)), std::optional<int>(0)) << c.AllLogs();
  }
  EXPECT_NE(c.worker(0).ReadLog().find("transport: mutual TLS"), std::string::npos);
  const std::string coordinator = c.coordinator_address();
  const std::string server = c.server_address(0);

  v1::ClusterStatus before;
  ASSERT_TRUE(AskStatus(OpenFreshChannel(coordinator, **admin), &before).ok());

  // Strangers are refused at the handshake; the same call with a good certificate works.
  EXPECT_EQ(AskStatus(OpenFreshChannel(coordinator)).error_code(), grpc::StatusCode::UNAVAILABLE)
      << "plaintext";
  EXPECT_FALSE(
      RawUnaryCall(server, "/ps.v1.ParameterServer/Pull", Empty(), absl::Seconds(5)).status.ok())
      << "plaintext to a server";
  EXPECT_EQ(AskStatus(RawTlsChannel(coordinator, *other_, "admin", dir + "/ca.pem")).error_code(),
            grpc::StatusCode::UNAVAILABLE)
      << "a certificate from another CA";
  EXPECT_EQ(AskStatus(RawTlsChannel(coordinator, dir, "expired", dir + "/ca.pem")).error_code(),
            grpc::StatusCode::UNAVAILABLE)
      << "an expired certificate";
  EXPECT_TRUE(AskStatus(RawTlsChannel(coordinator, dir, "admin", dir + "/ca.pem")).ok());

  // A worker's certificate: nothing outside its role, and nothing changes.
  absl::StatusOr<std::shared_ptr<TransportSecurity>> worker = TlsAs(dir, "worker");
  ASSERT_TRUE(worker.ok()) << worker.status();
  auto as_worker = v1::Coordinator::NewStub(OpenFreshChannel(coordinator, **worker));
  const auto code = [](const std::function<grpc::Status(grpc::ClientContext&)>& call) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    return call(context).error_code();
  };
  v1::RegisterServerRequest register_server;
  register_server.set_address("127.0.0.1:1");
  v1::RegisterServerResponse registered;
  EXPECT_EQ(code([&](grpc::ClientContext& context) {
              return as_worker->RegisterServer(&context, register_server, &registered);
            }),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::CreateTableRequest create;
  create.mutable_spec()->set_name("intruder");
  create.mutable_spec()->set_kind(v1::TABLE_KIND_DENSE);
  create.mutable_spec()->set_dense_size(16);
  v1::CreateTableResponse created;
  EXPECT_EQ(code([&](grpc::ClientContext& context) {
              return as_worker->CreateTable(&context, create, &created);
            }),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::DescribeTableRequest describe;
  describe.set_name("intruder");
  v1::TableInfo table;
  EXPECT_EQ(code([&](grpc::ClientContext& context) {
              return as_worker->DescribeTable(&context, describe, &table);
            }),
            grpc::StatusCode::NOT_FOUND);
  v1::CheckpointNowResponse checkpoint;
  EXPECT_EQ(code([&](grpc::ClientContext& context) {
              return as_worker->Checkpoint(&context, {}, &checkpoint);
            }),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::HeartbeatRequest heartbeat;  // Speaking for server 1.
  heartbeat.mutable_member()->set_role(v1::MemberRef::ROLE_SERVER);
  heartbeat.mutable_member()->set_id(1);
  v1::HeartbeatResponse beat;
  EXPECT_EQ(code([&](grpc::ClientContext& context) {
              return as_worker->Heartbeat(&context, heartbeat, &beat);
            }),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(
      RawUnaryCall(server, "/ps.v1.ParameterServer/Replicate", Empty(), absl::Seconds(5), **worker)
          .status.error_code(),
      grpc::StatusCode::PERMISSION_DENIED);
  v1::ClusterStatus after;
  ASSERT_TRUE(AskStatus(OpenFreshChannel(coordinator, **admin), &after).ok());
  EXPECT_EQ(after.map().epoch(), before.map().epoch());
  EXPECT_EQ(after.map().membership_version(), before.map().membership_version());
  EXPECT_EQ(after.map().catalog_version(), before.map().catalog_version());

  // A certificate naming no role is refused by every rpc: each handler checks.
  absl::StatusOr<std::shared_ptr<TransportSecurity>> nobody = TlsAs(dir, "nobody");
  ASSERT_TRUE(nobody.ok()) << nobody.status();
  const std::map<std::string, grpc::StatusCode> codes = CallEveryRpc(coordinator, server, **nobody);
  EXPECT_EQ(codes.size(), 23u);
  for (const auto& [method, method_code] : codes) {
    EXPECT_EQ(method_code, grpc::StatusCode::UNAUTHENTICATED) << method;
  }

  // SIGHUP: the coordinator takes a renewed certificate for new connections and keeps every
  // member; a broken file on the next SIGHUP is refused and the renewed one stays.
  ASSERT_TRUE(MakeCertificates(dir, {"renewed=coordinator"}).ok());
  ASSERT_TRUE(WriteFileAtomically(dir + "/coordinator.key", Read(dir + "/renewed.key")).ok());
  ASSERT_TRUE(WriteFileAtomically(dir + "/coordinator.pem", Read(dir + "/renewed.pem")).ok());
  c.coordinator_process().Signal(SIGHUP);
  std::string common_name;
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (common_name != "renewed" && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(200));
    AskStatus(OpenFreshChannel(coordinator, **admin), nullptr, &common_name);
  }
  EXPECT_EQ(common_name, "renewed") << c.coordinator_process().ReadLog();
  ASSERT_TRUE(WriteFileAtomically(dir + "/coordinator.pem", "broken").ok());
  c.coordinator_process().Signal(SIGHUP);
  const absl::Time log_deadline = absl::Now() + absl::Seconds(5);
  while (c.coordinator_process().ReadLog().find("keeping the current certificates") ==
             std::string::npos &&
         absl::Now() < log_deadline) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_NE(c.coordinator_process().ReadLog().find("keeping the current certificates"),
            std::string::npos);
  absl::SleepFor(absl::Seconds(2));  // Past the file watcher's interval.
  v1::ClusterStatus reloaded;
  EXPECT_TRUE(AskStatus(OpenFreshChannel(coordinator, **admin), &reloaded, &common_name).ok());
  EXPECT_EQ(common_name, "renewed");
  int alive = 0;
  for (const v1::MemberHealth& member : reloaded.members()) {
    alive += member.member().role() == v1::MemberRef::ROLE_SERVER &&
             member.state() == v1::MEMBER_STATE_ALIVE;
  }
  EXPECT_EQ(alive, 2) << "no server was dropped by the reloads";
  EXPECT_EQ(reloaded.map().epoch(), before.map().epoch());
}

TEST(SecuritySpreadTest, LargeRequestsOverTlsAreSpreadOverConnectionsAndStayExact) {
  // Certificates of its own: SecurityTest replaces the coordinator's to test reloads.
  const std::string dir = MakeTempDir("spread-certs");
  ASSERT_TRUE(MakeCertificates(dir).ok());
  absl::StatusOr<std::shared_ptr<TransportSecurity>> chief = TlsAs(dir, "chief");
  ASSERT_TRUE(chief.ok()) << chief.status();
  LocalClusterOptions options;
  options.servers = 1;
  options.workers = 0;
  options.num_shards = 8;
  options.replication_factor = 1;
  options.coordinator_args = TlsFlags(dir, "coordinator");
  options.server_args = TlsFlags(dir, "server");
  options.security = *chief;
  absl::StatusOr<std::unique_ptr<LocalCluster>> cluster = LocalCluster::Start(options);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  PsClientOptions client_options;
  client_options.coordinator_address = (*cluster)->coordinator_address();
  client_options.security = *chief;
  client_options.spread_bytes = 1 << 20;
  client_options.stream_push_bytes = 0;  // Spread pushes go as unary requests too.
  absl::StatusOr<std::unique_ptr<PsClient>> client = PsClient::Connect(client_options);
  ASSERT_TRUE(client.ok()) << client.status();
  // 2 Mi floats (8 MiB) on 8 shards of one server: each push and pull goes as four requests on
  // four TLS connections (kTlsConnectionsPerServer).
  constexpr size_t kFloats = size_t{1} << 21;
  v1::TableSpec spec;
  spec.set_name("big");
  spec.set_kind(v1::TABLE_KIND_DENSE);
  spec.set_dense_size(kFloats);
  spec.mutable_optimizer()->set_kind(v1::OptimizerSpec::KIND_SGD);
  spec.mutable_optimizer()->set_learning_rate(1.0f);
  spec.mutable_consistency()->set_model(v1::ConsistencySpec::MODEL_ASP);
  absl::StatusOr<v1::TableInfo> table = (*client)->CreateTable(spec);
  ASSERT_TRUE(table.ok()) << table.status();
  std::vector<float> gradient(kFloats);
  for (size_t i = 0; i < kFloats; ++i) gradient[i] = static_cast<float>(i % 1000) * 0.25f;
  std::vector<float> expected(kFloats);
  for (int push = 1; push <= 3; ++push) {
    ASSERT_TRUE((*client)->Push(*table, gradient).ok()) << "push " << push;
  }
  for (size_t i = 0; i < kFloats; ++i)
    expected[i] = -3.0f * gradient[i];  // Exact: multiples of 1/4.
  std::vector<float> values(kFloats, 1.0f);
  ASSERT_TRUE((*client)->Pull(*table, absl::MakeSpan(values)).ok());
  EXPECT_TRUE(values == expected) << "the pulled table differs from three pushes";
  EXPECT_EQ((*client)->stats().bytes_pulled, kFloats * sizeof(float));
}

TEST_F(SecurityTest, TokensIdentifyCallersOnPlaintext) {
  const std::string dir = MakeTempDir("tokens");
  const std::map<std::string, std::string> tokens = {{"coordinator", "c0c0c0c0c0c0c0c0c0c0"},
                                                     {"server", "5e5e5e5e5e5e5e5e5e5e"},
                                                     {"worker", "0a0a0a0a0a0a0a0a0a0a"},
                                                     {"admin", "adadadadadadadadadad"},
                                                     {"chief", "cfcfcfcfcfcfcfcfcfcf"}};
  std::string role_tokens;
  for (const auto& [name, token] : tokens) {
    if (name == "chief") {
      absl::StrAppend(&role_tokens, "worker ", token, "\nadmin ", token, "\n");
    } else {
      absl::StrAppend(&role_tokens, name, " ", token, "\n");
    }
    ASSERT_TRUE(WriteFileAtomically(dir + "/" + name + ".token", token + "\n").ok());
  }
  ASSERT_TRUE(WriteFileAtomically(dir + "/role_tokens", role_tokens).ok());
  const auto as = [&](const std::string& name) {
    SecurityOptions options;
    options.token_file = dir + "/" + name + ".token";
    absl::StatusOr<std::shared_ptr<TransportSecurity>> security =
        TransportSecurity::Create(options);
    EXPECT_TRUE(security.ok()) << security.status();
    return *security;
  };
  LocalClusterOptions options;
  options.servers = 2;
  options.workers = 1;
  options.num_shards = 4;
  options.failure_timeout_ms = 5000;
  const std::string serving = "--role_tokens_file=" + dir + "/role_tokens";
  options.coordinator_args = {serving, "--token_file=" + dir + "/coordinator.token"};
  options.server_args = {serving, "--token_file=" + dir + "/server.token"};
  options.worker_args = kShortTraining;
  options.worker_args[0] = "--workers=1";
  options.worker_args.push_back("--token_file=" + dir + "/chief.token");
  options.security = as("admin");
  absl::StatusOr<std::unique_ptr<LocalCluster>> cluster = LocalCluster::Start(options);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  LocalCluster& c = **cluster;
  ASSERT_EQ(c.worker(0).Wait(absl::Seconds(180)), std::optional<int>(0)) << c.AllLogs();
  const std::string coordinator = c.coordinator_address();
  const std::string server = c.server_address(0);

  SecurityOptions wrong_options;
  ASSERT_TRUE(WriteFileAtomically(dir + "/wrong.token", "ffffffffffffffffffff").ok());
  wrong_options.token_file = dir + "/wrong.token";
  absl::StatusOr<std::shared_ptr<TransportSecurity>> wrong =
      TransportSecurity::Create(wrong_options);
  ASSERT_TRUE(wrong.ok());
  for (const auto& [label, security] :
       {std::pair<std::string, std::shared_ptr<const TransportSecurity>>{
            "no token", TransportSecurity::Plaintext()},
        {"a wrong token", *wrong}}) {
    EXPECT_EQ(AskStatus(OpenFreshChannel(coordinator, *security)).error_code(),
              grpc::StatusCode::UNAUTHENTICATED)
        << label;
    EXPECT_EQ(
        RawUnaryCall(server, "/ps.v1.ParameterServer/Pull", Empty(), absl::Seconds(5), *security)
            .status.error_code(),
        grpc::StatusCode::UNAUTHENTICATED)
        << label;
  }
  // Each role's token: allowed what its role may, refused the rest.
  const auto raw = [&](const std::string& name, const std::string& address,
                       const std::string& method) {
    return RawUnaryCall(address, method, Empty(), absl::Seconds(5), *as(name)).status.error_code();
  };
  EXPECT_EQ(raw("worker", coordinator, "/ps.v1.Coordinator/RegisterServer"),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(raw("worker", server, "/ps.v1.ParameterServer/Replicate"),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(raw("server", server, "/ps.v1.ParameterServer/Push"),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(raw("worker", coordinator, "/ps.v1.Coordinator/Checkpoint"),
            grpc::StatusCode::PERMISSION_DENIED);
  // Past the role check, the request itself is judged: checkpoints are off here.
  EXPECT_EQ(raw("admin", coordinator, "/ps.v1.Coordinator/Checkpoint"),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(AskStatus(OpenFreshChannel(coordinator, *as("worker"))).ok());
}

TEST(SecurityListenTest, PlaintextOnAPublicAddressNeedsInsecure) {
  const std::string dir = MakeTempDir("listen");
  const std::vector<std::string> args = {"--bind_host=0.0.0.0", "--advertise_host=127.0.0.1",
                                         "--coordinator=127.0.0.1:1", "--register_timeout_s=1"};
  absl::StatusOr<std::unique_ptr<DaemonProcess>> refused =
      DaemonProcess::Start(RunfilePath("server/ps_server"), args, dir + "/refused.log");
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ((*refused)->Wait(absl::Seconds(30)), std::optional<int>(2));
  EXPECT_NE((*refused)->ReadLog().find("refusing to listen on 0.0.0.0 in plaintext"),
            std::string::npos)
      << (*refused)->ReadLog();
  std::vector<std::string> insecure = args;
  insecure.push_back("--insecure");
  absl::StatusOr<std::unique_ptr<DaemonProcess>> allowed =
      DaemonProcess::Start(RunfilePath("server/ps_server"), insecure, dir + "/insecure.log");
  ASSERT_TRUE(allowed.ok());
  // It listens (and says so loudly), then gives up on the absent coordinator.
  EXPECT_EQ((*allowed)->Wait(absl::Seconds(30)), std::optional<int>(1));
  EXPECT_NE((*allowed)->ReadLog().find("INSECURE: listening on 0.0.0.0 in plaintext"),
            std::string::npos)
      << (*allowed)->ReadLog();
}

}  // namespace
}  // namespace ps::testing
