(* The number of forks in a binary tree. *)
type nat =
  | O
  | S of nat

type tree =
  | Tip
  | Fork of tree * nat * tree

let rec plus (a : nat) (b : nat) : nat =
  match a with
  | O -> b
  | S (a1) -> S (plus a1 b)
;;

let tree_size : tree -> nat |>
  { Tip => 0
  | Fork (Tip, 0, Tip) => 1
  | Fork (Fork (Tip, 0, Tip), 1, Tip) => 2
  | Fork (Tip, 1, Fork (Tip, 0, Tip)) => 2
  | Fork (Fork (Tip, 0, Tip), 2, Fork (Tip, 1, Fork (Tip, 0, Tip))) => 4 } = ?
