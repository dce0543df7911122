(* The second element of a list, if it has one.  Examples as refinement types: `nat` in an
   example is any number, and \/( ... ) a union of inputs with the same output. *)
type nat =
  | Z
  | S of nat

type list =
  | Nil
  | Cons of nat * list

type natopt =
  | None
  | Some of nat

let list_second : list -> natopt |>
  /\(\/([], [nat]) -> None,
     [nat; 2] -> Some 2,
     \/([nat; 0], [nat; 0; nat]) -> Some 0) = ?
