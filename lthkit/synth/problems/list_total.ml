(* Add up the numbers of a list, using a helper defined here. *)
type nat =
  | O
  | S of nat

type list =
  | Nil
  | Cons of nat * list

let rec plus (a : nat) (b : nat) : nat =
  match a with
  | O -> b
  | S (a1) -> S (plus a1 b)
;;

let list_total : list -> nat |>
  { [] => 0
  | [1] => 1
  | [2; 1] => 3
  | [1; 2; 1] => 4 } = ?
