import DequeModule

/// A list in insertion order that nearly always holds one element; that case needs no buffer.
///
/// Kept per queued job (the queue's per-asset lines, the store's rename index), where a buffer each
/// would cost about 100 bytes per job.
enum CompactList<Element: Equatable> {
    case one(Element)
    case many(Deque<Element>)

    var first: Element? {
        switch self {
        case .one(let element): element
        case .many(let elements): elements.first
        }
    }

    var elements: [Element] {
        switch self {
        case .one(let element): [element]
        case .many(let elements): Array(elements)
        }
    }

    mutating func append(_ element: Element) {
        switch self {
        case .one(let first):
            self = .many([first, element])
        case .many(var elements):
            self = .one(element)  // drop this reference first, so the append does not copy the buffer
            elements.append(element)
            self = .many(elements)
        }
    }

    /// Inserts `element` before the first element that `isAfter` says comes after it (at the end
    /// when none does); returns whether it is the first now.
    @discardableResult
    mutating func insert(_ element: Element, beforeFirst isAfter: (Element) -> Bool) -> Bool {
        switch self {
        case .one(let first):
            let before = isAfter(first)
            self = before ? .many([element, first]) : .many([first, element])
            return before
        case .many(var elements):
            self = .one(element)
            let index = elements.firstIndex(where: isAfter) ?? elements.endIndex
            elements.insert(element, at: index)
            self = .many(elements)
            return index == elements.startIndex
        }
    }

    /// Removes every occurrence of `element`.
    ///
    /// - Returns: false when nothing is left (the list still holds its old value then).
    mutating func remove(_ element: Element) -> Bool {
        switch self {
        case .one(let only):
            return only != element
        case .many(var elements):
            self = .one(element)
            elements.removeAll { $0 == element }
            guard let first = elements.first else { return false }
            self = elements.count == 1 ? .one(first) : .many(elements)
            return true
        }
    }
}

extension Optional {
    // On an optional list, so that `dictionary[key].append(x)` looks the key up once (the
    // subscript's modify accessor) whether or not the list exists yet.

    /// Appends to the list, creating it.
    mutating func append<Element>(_ element: Element) where Wrapped == CompactList<Element> {
        if self?.append(element) == nil { self = .one(element) }
    }

    /// Inserts before the first element `isAfter` picks, creating the list; returns whether the
    /// element heads the list now.
    mutating func insert<Element>(_ element: Element, beforeFirst isAfter: (Element) -> Bool) -> Bool
    where Wrapped == CompactList<Element> {
        if let first = self?.insert(element, beforeFirst: isAfter) { return first }
        self = .one(element)
        return true
    }

    /// Removes from the list, dropping it once it is empty.
    mutating func remove<Element>(_ element: Element) where Wrapped == CompactList<Element> {
        if self?.remove(element) == false { self = nil }
    }
}
