import RenamerCore
import ServiceLifecycle

/// With several replicas on PostgreSQL (SPEC §12): takes over the jobs of replicas whose lease
/// passed and takes the requests other replicas left for this one's jobs, until the drain starts
/// (a draining replica takes on nothing new). Ends at once with single-process storage.
struct ReplicaService: Service {
    let components: RenamerComponents

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            await components.lifecycle.runReplicaDuties()
        }
    }
}
