(* Products: split a list of pairs into the list of firsts and the list of seconds; the
   result is a tuple, and each recursive call's result is projected. *)
type nat =
  | Z
  | S of nat

type list =
  | Nil
  | Cons of nat * list

type plist =
  | PNil
  | PCons of (nat * nat) * plist

let rec list_unzip : plist -> list * list |>
  /\(PNil -> ([], []),
     PCons ((1, 2), PNil) -> ([1], [2]),
     PCons ((0, 1), PCons ((1, 2), PNil)) -> ([0; 1], [1; 2])) = ?
