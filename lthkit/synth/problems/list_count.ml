(* The number of elements of a list. *)
type nat =
  | O
  | S of nat

type list =
  | Nil
  | Cons of nat * list

let list_count : list -> nat |>
  { [] => 0
  | [3] => 1
  | [1; 3] => 2
  | [2; 1; 3] => 3 } = ?
