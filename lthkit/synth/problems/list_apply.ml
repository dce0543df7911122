(* Products and higher-order examples: apply a function given by examples to each element. *)
type nat =
  | Z
  | S of nat

type list =
  | Nil
  | Cons of nat * list

let rec list_apply : (nat -> nat) -> list -> list |>
  /\(0 -> 1, 1 -> 2, 2 -> 0) ->
    /\([] -> [],
       [2] -> [0],
       [1; 2] -> [2; 0]) = ?
