import Foundation
import NIOHTTP1
import RenamerServer
import RenamerTestSupport
import Testing

/// The alerts (`deploy/monitoring/rules/asset-renamer.rules.yaml`, copied into the PrometheusRule)
/// and the Grafana dashboard (`deploy/monitoring/grafana-dashboard.json`) name only what a live
/// daemon's `/metrics` exports: metric families (a histogram's with `_bucket`, `_sum` or `_count`),
/// their labels and their label values.
@Suite("Monitoring")
struct MonitoringTests {
    static let rulesPath = "deploy/monitoring/rules/asset-renamer.rules.yaml"
    static let dashboardPath = "deploy/monitoring/grafana-dashboard.json"

    @Test func alertsAndDashboardNameOnlyExportedMetrics() async throws {
        var text = ""
        try await Harness.run { harness in
            text = try await harness.request(.GET, harness.daemonURL + "/metrics", token: nil).text
        }
        let exported = Exposition(text)
        #expect(Set(exported.families.keys).isSuperset(of: MetricFamily.all.map(\.name)))
        // The checker itself finds what it must find.
        #expect(exported.problems(in: Query(expr: #"rate(renamer_renames_total{reason="x"}[5m])"#)).count == 1)
        #expect(exported.problems(in: Query(expr: #"sum by (kind) (renamer_jobs_finished_total{status="lost"})"#)).count == 2)
        #expect(exported.problems(in: Query(expr: "renamer_queue_depth_bucket", legend: "{{state}}")).count == 2)

        let root = PythonOracle.packageRoot
        let rules = try String(contentsOf: root.appending(path: Self.rulesPath), encoding: .utf8)
        let ruleQueries = Self.ruleQueries(rules)
        #expect(ruleQueries.count == rules.components(separatedBy: "- alert:").count - 1, "an alert whose expr was not read")
        // Every renamer_* name anywhere in the rules file (comments and annotations too) is exported.
        let allNames = Query(expr: rules)
        for name in allNames.metricNames where exported.family(of: name) == nil {
            Issue.record("\(Self.rulesPath) names \(name), which the daemon does not export")
        }
        for query in ruleQueries {
            for problem in exported.problems(in: query) { Issue.record("\(Self.rulesPath): \(problem)") }
        }

        let dashboard = try JSONSerialization.jsonObject(with: Data(contentsOf: root.appending(path: Self.dashboardPath)))
        let dashboardQueries = Self.dashboardQueries(dashboard)
        #expect(dashboardQueries.count >= 30)
        for query in dashboardQueries {
            for problem in exported.problems(in: query) { Issue.record("\(Self.dashboardPath): \(problem)") }
        }
        // Not vacuous: the alerts use many families, and the dashboard shows every one.
        #expect(Set(ruleQueries.flatMap(\.metricNames).compactMap(exported.family(of:))).count >= 10)
        let shown = Set(dashboardQueries.flatMap(\.metricNames).compactMap(exported.family(of:)))
        let renamerFamilies = exported.families.keys.filter { $0.hasPrefix("renamer_") }
        #expect(shown.isSuperset(of: renamerFamilies), "no panel for \(Set(renamerFamilies).subtracting(shown).sorted())")
    }

    /// Each alert's `expr`, as a plain or a block scalar (`expr: |`).
    static func ruleQueries(_ text: String) -> [Query] {
        var queries: [Query] = []
        let lines = text.components(separatedBy: "\n")
        var index = 0
        while index < lines.count {
            let line = lines[index]
            index += 1
            let trimmed = line.drop(while: { $0 == " " })
            guard trimmed.hasPrefix("expr:") else { continue }
            let value = trimmed.dropFirst("expr:".count).trimmingCharacters(in: .whitespaces)
            guard value.hasPrefix("|") || value.hasPrefix(">") else {
                queries.append(Query(expr: value))
                continue
            }
            let indent = line.count - trimmed.count
            var block: [String] = []
            while index < lines.count,
                lines[index].trimmingCharacters(in: .whitespaces).isEmpty || lines[index].prefix(while: { $0 == " " }).count > indent
            {
                block.append(lines[index])
                index += 1
            }
            queries.append(Query(expr: block.joined(separator: "\n")))
        }
        return queries
    }

    /// Every panel target's `expr` (with its `legendFormat`) and every variable's query.
    static func dashboardQueries(_ node: Any) -> [Query] {
        if let list = node as? [Any] { return list.flatMap(dashboardQueries) }
        guard let object = node as? [String: Any] else { return [] }
        var queries: [Query] = []
        if let expr = object["expr"] as? String { queries.append(Query(expr: expr, legend: object["legendFormat"] as? String ?? "")) }
        if let definition = object["definition"] as? String { queries.append(Query(expr: definition)) }
        if let query = object["query"] as? String, object["type"] as? String == "query" { queries.append(Query(expr: query)) }
        for (key, value) in object where key != "expr" {
            queries += dashboardQueries(value)
        }
        return queries
    }
}

extension MonitoringTests {
    /// One PromQL expression (dashboard variables such as `$namespace` left in), and a legend template.
    struct Query {
        var expr: String
        var legend = ""

        static let metric = #"\brenamer_[a-zA-Z0-9_]+"#
        static let selector = #"\b(renamer_[a-zA-Z0-9_]+)\s*\{([^}]*)\}"#
        static let matcher = #"([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!=|!~|=)\s*"((?:[^"\\]|\\.)*)""#
        static let grouping = #"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)"#
        static let legendLabel = #"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}"#

        /// Each match of `pattern` in `text`, as its capture groups (0: the whole match; "" when a group
        /// took no part).
        static func matches(of pattern: String, in text: String) -> [[String]] {
            let regex = try! Regex(pattern)
            return text.matches(of: regex).map { match in
                (0..<match.output.count).map { match.output[$0].substring.map(String.init) ?? "" }
            }
        }

        /// Every `renamer_…` name, in order of appearance.
        var metricNames: [String] { Self.matches(of: Self.metric, in: expr).map { $0[0] } }

        /// `(metric, [(label, operator, value)])` for every selector with matchers.
        var selectors: [(name: String, matchers: [[String]])] {
            Self.matches(of: Self.selector, in: expr).map { groups in
                (name: groups[1], matchers: Self.matches(of: Self.matcher, in: groups[2]))
            }
        }

        /// Labels named in `by`, `without`, `on` and `ignoring`.
        var groupingLabels: [String] {
            Self.matches(of: Self.grouping, in: expr).flatMap { groups in
                groups[1].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            }
            .filter { !$0.isEmpty }
        }

        var legendLabels: [String] { Self.matches(of: Self.legendLabel, in: legend).map { $0[1] } }
    }

    /// What `/metrics` exports: each family's type, and its labels with the values of its samples.
    struct Exposition {
        struct Family {
            var type = ""
            var labels: [String: Set<String>] = [:]
        }

        /// Labels that Prometheus and the ServiceMonitor add to every series.
        static let targetLabels: Set<String> = ["job", "instance", "namespace", "pod", "service", "container", "endpoint"]
        static let histogramSuffixes = ["_bucket", "_sum", "_count"]

        var families: [String: Family] = [:]

        init(_ text: String) {
            for line in text.split(separator: "\n").map(String.init) {
                if line.hasPrefix("# HELP ") || line.hasPrefix("# TYPE ") {
                    // `# HELP name text`, `# TYPE name kind`: the families.
                    let fields = line.split(separator: " ", maxSplits: 3).map(String.init)
                    guard fields.count == 4 else { continue }
                    if line.hasPrefix("# TYPE ") { families[fields[2], default: Family()].type = fields[3] }
                    if families[fields[2]] == nil { families[fields[2]] = Family() }
                    continue
                }
                // `name{label="value",…} number`: the labels and values of a family's samples.
                guard !line.hasPrefix("#"), let groups = Query.matches(of: #"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s"#, in: line).first,
                    let family = family(of: groups[1])
                else { continue }
                for label in Query.matches(of: Query.matcher, in: groups[2]) {
                    families[family, default: Family()].labels[label[1], default: []].insert(label[3])
                }
            }
        }

        /// The family a series name belongs to: itself, or a histogram's with one of its suffixes.
        func family(of name: String) -> String? {
            if families[name] != nil { return name }
            for suffix in Self.histogramSuffixes where name.hasSuffix(suffix) {
                let base = String(name.dropLast(suffix.count))
                if families[base]?.type == "histogram" { return base }
            }
            return nil
        }

        /// What in `query` the daemon does not export: unknown names, unknown labels, unknown values.
        func problems(in query: Query) -> [String] {
            var problems: [String] = []
            var labels = Self.targetLabels
            for name in query.metricNames {
                guard let family = family(of: name) else {
                    problems.append("\(name) is not an exported metric (in \(query.expr))")
                    continue
                }
                labels.formUnion(families[family].map { Array($0.labels.keys) } ?? [])
            }
            for (name, matchers) in query.selectors {
                guard let family = family(of: name), let known = families[family] else { continue }
                for matcher in matchers {
                    let (label, operation, value) = (matcher[1], matcher[2], matcher[3])
                    if Self.targetLabels.contains(label) || (label == "le" && name.hasSuffix("_bucket")) { continue }
                    guard let values = known.labels[label] else {
                        problems.append("\(name) has no label \(label) (in \(query.expr))")
                        continue
                    }
                    // A literal value, or an alternation of literal values: each must be one the daemon exports.
                    let alternatives = operation.hasSuffix("~") ? value.split(separator: "|").map(String.init) : [value]
                    for alternative in alternatives where alternative.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) {
                        if !values.contains(alternative) {
                            problems.append("\(name){\(label)} has no value \(alternative); it has \(values.sorted()) (in \(query.expr))")
                        }
                    }
                }
            }
            for label in query.groupingLabels + query.legendLabels where !labels.contains(label) && label != "le" {
                problems.append("no metric of the query has the label \(label) (in \(query.expr))")
            }
            return problems
        }
    }
}
