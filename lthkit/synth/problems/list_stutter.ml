(* Repeat every element of a list: the appendix's worked example. *)
type nat =
  | O
  | S of nat

type list =
  | Nil
  | Cons of nat * list

let list_stutter : list -> list |>
  { [] => []
  | [2] => [2; 2]
  | [0; 2] => [0; 0; 2; 2] } = ?
