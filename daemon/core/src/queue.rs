//! An ordered queue with positions: the data structure behind every line of
//! tickets in a hall.
//!
//! A line is mostly a FIFO, but not only: a transferred ticket keeps its
//! original issue time and so slots in among later arrivals (首问负责), a
//! reinstated no-show goes back a few places behind the head (过号重排), and a
//! window may call any ticket by number. Each visitor must also be told how
//! many people are ahead of them. So the line needs, in O(log n): insert at a
//! key, remove by key, the first entry, the n-th entry and the rank of a key.
//!
//! It is a treap (a binary search tree kept balanced by random heap
//! priorities) in an arena, with subtree sizes for the order statistics. The
//! priorities come from a fixed-seed generator, so a replayed hall builds the
//! very same trees.

/// Index of a node in the arena; `NIL` is "no node".
type Link = u32;
const NIL: Link = u32::MAX;

#[derive(Debug, Clone)]
struct Node<K, V> {
    key: K,
    value: V,
    priority: u32,
    left: Link,
    right: Link,
    /// Number of nodes in the subtree rooted here.
    size: u32,
}

/// A set of `(key, value)` entries ordered by key, with O(log n) positions.
#[derive(Debug, Clone)]
pub struct OrderedQueue<K, V> {
    nodes: Vec<Node<K, V>>,
    free: Vec<Link>,
    root: Link,
    /// The leftmost node, cached: dispatch looks at line heads on every call.
    head: Link,
    rng: u32,
}

impl<K: Ord + Copy, V: Copy> Default for OrderedQueue<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Ord + Copy, V: Copy> OrderedQueue<K, V> {
    /// An empty queue.
    pub fn new() -> Self {
        OrderedQueue {
            nodes: Vec::new(),
            free: Vec::new(),
            root: NIL,
            head: NIL,
            rng: 0x9E37_79B9,
        }
    }

    /// Number of entries. O(1).
    pub fn len(&self) -> usize {
        self.size(self.root) as usize
    }

    /// Whether the queue is empty. O(1).
    pub fn is_empty(&self) -> bool {
        self.root == NIL
    }

    /// Inserts an entry; the key must not be present already. O(log n).
    pub fn insert(&mut self, key: K, value: V) {
        let node = self.alloc(key, value);
        if self.head == NIL || key < self.node(self.head).key {
            self.head = node;
        }
        let (left, right) = self.split(self.root, &key);
        let left = self.merge(left, node);
        self.root = self.merge(left, right);
    }

    /// Removes the entry with this key and returns its value. O(log n).
    pub fn remove(&mut self, key: &K) -> Option<V> {
        let (root, removed) = self.remove_from(self.root, key);
        self.root = root;
        removed.map(|link| {
            if link == self.head {
                self.head = self.leftmost();
            }
            self.free.push(link);
            self.nodes[link as usize].value
        })
    }

    /// The entry with the smallest key. O(1).
    pub fn first(&self) -> Option<(K, V)> {
        (self.head != NIL).then(|| (self.node(self.head).key, self.node(self.head).value))
    }

    fn leftmost(&self) -> Link {
        let mut t = self.root;
        if t == NIL {
            return NIL;
        }
        while self.node(t).left != NIL {
            t = self.node(t).left;
        }
        t
    }

    /// The entry with `index` entries before it. O(log n).
    pub fn nth(&self, mut index: usize) -> Option<(K, V)> {
        let mut t = self.root;
        while t != NIL {
            let left = self.size(self.node(t).left) as usize;
            match index.cmp(&left) {
                std::cmp::Ordering::Less => t = self.node(t).left,
                std::cmp::Ordering::Equal => return Some((self.node(t).key, self.node(t).value)),
                std::cmp::Ordering::Greater => {
                    index -= left + 1;
                    t = self.node(t).right;
                }
            }
        }
        None
    }

    /// How many entries have a smaller key than `key`. O(log n).
    pub fn rank(&self, key: &K) -> usize {
        let mut t = self.root;
        let mut before = 0usize;
        while t != NIL {
            let n = self.node(t);
            if n.key < *key {
                before += self.size(n.left) as usize + 1;
                t = n.right;
            } else {
                t = n.left;
            }
        }
        before
    }

    /// The value stored under `key`. O(log n).
    pub fn get(&self, key: &K) -> Option<&V> {
        let mut t = self.root;
        while t != NIL {
            let n = self.node(t);
            match key.cmp(&n.key) {
                std::cmp::Ordering::Less => t = n.left,
                std::cmp::Ordering::Equal => return Some(&n.value),
                std::cmp::Ordering::Greater => t = n.right,
            }
        }
        None
    }

    /// Whether an entry with this key is present. O(log n).
    pub fn contains(&self, key: &K) -> bool {
        self.get(key).is_some()
    }

    /// The value stored under `key`, to change in place. O(log n).
    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        let mut t = self.root;
        while t != NIL {
            match key.cmp(&self.nodes[t as usize].key) {
                std::cmp::Ordering::Less => t = self.nodes[t as usize].left,
                std::cmp::Ordering::Equal => return Some(&mut self.nodes[t as usize].value),
                std::cmp::Ordering::Greater => t = self.nodes[t as usize].right,
            }
        }
        None
    }

    /// Every entry in key order. O(n): for listings, never for dispatch.
    pub fn to_vec(&self) -> Vec<(K, V)> {
        let mut out = Vec::with_capacity(self.len());
        let mut stack = Vec::new();
        let mut t = self.root;
        while t != NIL || !stack.is_empty() {
            while t != NIL {
                stack.push(t);
                t = self.node(t).left;
            }
            if let Some(top) = stack.pop() {
                out.push((self.node(top).key, self.node(top).value));
                t = self.node(top).right;
            }
        }
        out
    }

    fn node(&self, link: Link) -> &Node<K, V> {
        &self.nodes[link as usize]
    }

    fn size(&self, link: Link) -> u32 {
        if link == NIL {
            0
        } else {
            self.nodes[link as usize].size
        }
    }

    fn update(&mut self, link: Link) {
        let n = &self.nodes[link as usize];
        let size = 1 + self.size(n.left) + self.size(n.right);
        self.nodes[link as usize].size = size;
    }

    fn alloc(&mut self, key: K, value: V) -> Link {
        // xorshift32: cheap, deterministic, good enough for heap priorities.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 17;
        self.rng ^= self.rng << 5;
        let node = Node {
            key,
            value,
            priority: self.rng,
            left: NIL,
            right: NIL,
            size: 1,
        };
        match self.free.pop() {
            Some(link) => {
                self.nodes[link as usize] = node;
                link
            }
            None => {
                let link = Link::try_from(self.nodes.len()).expect("fewer than 2^32 - 1 tickets");
                self.nodes.push(node);
                link
            }
        }
    }

    /// Splits `t` into (keys < key, keys >= key).
    fn split(&mut self, t: Link, key: &K) -> (Link, Link) {
        if t == NIL {
            return (NIL, NIL);
        }
        if self.nodes[t as usize].key < *key {
            let (l, r) = self.split(self.nodes[t as usize].right, key);
            self.nodes[t as usize].right = l;
            self.update(t);
            (t, r)
        } else {
            let (l, r) = self.split(self.nodes[t as usize].left, key);
            self.nodes[t as usize].left = r;
            self.update(t);
            (l, t)
        }
    }

    /// Joins two treaps where every key of `a` is below every key of `b`.
    fn merge(&mut self, a: Link, b: Link) -> Link {
        if a == NIL {
            return b;
        }
        if b == NIL {
            return a;
        }
        if self.nodes[a as usize].priority > self.nodes[b as usize].priority {
            let right = self.merge(self.nodes[a as usize].right, b);
            self.nodes[a as usize].right = right;
            self.update(a);
            a
        } else {
            let left = self.merge(a, self.nodes[b as usize].left);
            self.nodes[b as usize].left = left;
            self.update(b);
            b
        }
    }

    /// Removes `key` from the subtree `t`; returns the new subtree and the
    /// unlinked node.
    fn remove_from(&mut self, t: Link, key: &K) -> (Link, Option<Link>) {
        if t == NIL {
            return (NIL, None);
        }
        let (left, right) = (self.nodes[t as usize].left, self.nodes[t as usize].right);
        match key.cmp(&self.nodes[t as usize].key) {
            std::cmp::Ordering::Equal => (self.merge(left, right), Some(t)),
            std::cmp::Ordering::Less => {
                let (l, removed) = self.remove_from(left, key);
                self.nodes[t as usize].left = l;
                if removed.is_some() {
                    self.update(t);
                }
                (t, removed)
            }
            std::cmp::Ordering::Greater => {
                let (r, removed) = self.remove_from(right, key);
                self.nodes[t as usize].right = r;
                if removed.is_some() {
                    self.update(t);
                }
                (t, removed)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u16),
        Remove(u16),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => any::<u16>().prop_map(|k| Op::Insert(k % 512)),
            2 => any::<u16>().prop_map(|k| Op::Remove(k % 512)),
        ]
    }

    proptest! {
        /// The queue agrees with a BTreeMap on every query after every step.
        #[test]
        fn behaves_like_an_ordered_map(ops in proptest::collection::vec(op(), 1..300)) {
            let mut q = OrderedQueue::new();
            let mut model = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Insert(k) => {
                        if let std::collections::btree_map::Entry::Vacant(e) = model.entry(k) {
                            e.insert(u32::from(k) * 7);
                            q.insert(k, u32::from(k) * 7);
                        }
                    }
                    Op::Remove(k) => prop_assert_eq!(q.remove(&k), model.remove(&k)),
                }
                prop_assert_eq!(q.len(), model.len());
                prop_assert_eq!(q.first(), model.iter().next().map(|(k, v)| (*k, *v)));
                let all: Vec<_> = model.iter().map(|(k, v)| (*k, *v)).collect();
                prop_assert_eq!(q.to_vec(), all.clone());
                for (i, (k, v)) in all.iter().enumerate() {
                    prop_assert_eq!(q.nth(i), Some((*k, *v)));
                    prop_assert_eq!(q.rank(k), i);
                    prop_assert!(q.contains(k));
                    prop_assert_eq!(q.clone().get_mut(k).copied(), Some(*v));
                }
                prop_assert_eq!(q.nth(all.len()), None);
            }
        }
    }

    #[test]
    fn stays_shallow_on_sequential_keys() {
        // Tickets arrive in key order: a plain BST would degrade to a list.
        let mut q = OrderedQueue::new();
        for k in 0..100_000u32 {
            q.insert(k, ());
        }
        fn depth(q: &OrderedQueue<u32, ()>, t: Link) -> usize {
            if t == NIL {
                0
            } else {
                1 + depth(q, q.node(t).left).max(depth(q, q.node(t).right))
            }
        }
        assert!(depth(&q, q.root) < 60, "depth {}", depth(&q, q.root));
        assert_eq!(q.rank(&50_000), 50_000);
        for k in 0..50_000u32 {
            assert_eq!(q.remove(&k), Some(()));
        }
        assert_eq!(q.first(), Some((50_000, ())));
        assert_eq!(q.len(), 50_000);
    }
}
