(* Polymorphism over a tree: swap the subtrees of every node.  The labels a, b and c are
   abstract values of the type variable 'a. *)
type 'a tree =
  | Leaf
  | Node of 'a tree * 'a * 'a tree

let rec tree_mirror : 'a tree -> 'a tree |>
  /\(Leaf -> Leaf,
     Node (Leaf, c, Leaf) -> Node (Leaf, c, Leaf),
     Node (Node (Leaf, c, Leaf), b, Leaf) -> Node (Leaf, b, Node (Leaf, c, Leaf)),
     Node (Node (Node (Leaf, c, Leaf), b, Leaf), a, Leaf)
       -> Node (Leaf, a, Node (Leaf, b, Node (Leaf, c, Leaf))),
     Node (Leaf, a, Node (Node (Leaf, c, Leaf), b, Leaf))
       -> Node (Node (Leaf, b, Node (Leaf, c, Leaf)), a, Leaf)) = ?
